"""Signs a challenge the way each family's wallets do, with libraries independent of the product
(eth-account for EIP-191, python-bitcoinlib for Bitcoin-family signed messages, PyNaCl for
ed25519), and prints {"address": ..., "signature": ...} as JSON.

    sign.py FAMILY KIND SECRET_HEX MESSAGE

FAMILY: evm, bitcoin, litecoin, solana. KIND (Bitcoin-family only): p2pkh, p2pkh-uncompressed,
p2sh-p2wpkh (BIP-137 header), p2wpkh (BIP-137 header), p2wpkh-electrum (Electrum's compressed
P2PKH header for a segwit address).
"""
import base64
import hashlib
import json
import sys

family, kind, secret_hex, message = sys.argv[1:5]
secret = bytes.fromhex(secret_hex)


def hash160(b):
    return hashlib.new("ripemd160", hashlib.sha256(b).digest()).digest()


if family == "evm":
    from eth_account import Account
    from eth_account.messages import encode_defunct

    account = Account.from_key(secret)
    signed = account.sign_message(encode_defunct(text=message))
    out = {"address": account.address, "signature": "0x" + signed.signature.hex().removeprefix("0x")}
elif family in ("bitcoin", "litecoin"):
    import base58
    from bitcoin import segwit_addr
    from bitcoin.signmessage import BitcoinMessage, SignMessage
    from bitcoin.wallet import CBitcoinSecret

    key = CBitcoinSecret.from_secret_bytes(secret, compressed=(kind != "p2pkh-uncompressed"))
    magic = "Bitcoin Signed Message:\n" if family == "bitcoin" else "Litecoin Signed Message:\n"
    raw = bytearray(base64.b64decode(SignMessage(key, BitcoinMessage(message, magic=magic))))
    key_hash = hash160(bytes(key.pub))
    p2pkh, p2sh, hrp = (0x00, 0x05, "bc") if family == "bitcoin" else (0x30, 0x32, "ltc")
    if kind.startswith("p2pkh"):
        address = base58.b58encode_check(bytes([p2pkh]) + key_hash).decode()
    elif kind == "p2sh-p2wpkh":
        address = base58.b58encode_check(bytes([p2sh]) + hash160(b"\x00\x14" + key_hash)).decode()
        raw[0] += 4  # BIP-137: 35-38
    else:
        address = segwit_addr.encode(hrp, 0, key_hash)
        if kind == "p2wpkh":
            raw[0] += 8  # BIP-137: 39-42
    out = {"address": address, "signature": base64.b64encode(bytes(raw)).decode()}
elif family == "solana":
    import base58
    from nacl.signing import SigningKey

    key = SigningKey(secret)
    out = {
        "address": base58.b58encode(bytes(key.verify_key)).decode(),
        "signature": base58.b58encode(key.sign(message.encode()).signature).decode(),
    }
else:
    sys.exit(f"unknown family {family}")
print(json.dumps(out))
