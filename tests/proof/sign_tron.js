// Signs a challenge as TronLink does (TronWeb's TIP-191 signMessage), with TronWeb itself, and
// prints {"address": ..., "signature": ...} as JSON.   node sign_tron.js SECRET_HEX MESSAGE
const { TronWeb, utils } = require('tronweb');
const [secret, message] = process.argv.slice(2);
console.log(JSON.stringify({
  address: TronWeb.address.fromPrivateKey(secret),
  signature: utils.message.signMessage(message, secret),
}));
