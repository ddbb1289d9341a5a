//! Who signs the hot wallet's transactions: a key in the server's memory (`local`), or a key that
//! never leaves a hardware security module, reached over PKCS#11 (`pkcs11`: SoftHSM2 in the
//! tests, any vendor's module in production). The module signs the transaction hash with plain
//! CKM_ECDSA; the signature is made low-s (as Ethereum requires) and its recovery id found by
//! recovering the wallet's own address.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use alloy::primitives::{Address, B256, Signature, U256, keccak256};
use alloy::signers::SignerSync;
use alloy::signers::local::PrivateKeySigner;
use cryptoki::context::{CInitializeArgs, Pkcs11};
use cryptoki::mechanism::Mechanism;
use cryptoki::object::{Attribute, AttributeType, KeyType, ObjectClass, ObjectHandle};
use cryptoki::session::{Session, UserType};
use cryptoki::types::AuthPin;

/// secp256k1's curve, as the DER-encoded object identifier 1.3.132.0.10 (CKA_EC_PARAMS).
const SECP256K1_OID: [u8; 7] = [0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x0a];

/// secp256k1's group order n.
const ORDER: U256 = U256::from_be_bytes([
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xfe, 0xba, 0xae, 0xdc,
    0xe6, 0xaf, 0x48, 0xa0, 0x3b, 0xbf, 0xd2, 0x5e, 0x8c, 0xd0, 0x36, 0x41, 0x41,
]);

/// The environment variable holding the token's user PIN, unless the config names `pin_file`.
pub const PIN_ENV: &str = "PAYOUTS_PKCS11_PIN";

/// Where the key lives in a PKCS#11 token.
#[derive(Debug, Clone)]
pub struct Pkcs11Settings {
    pub module: PathBuf,
    pub token_label: String,
    pub key_label: String,
    pub pin: String,
}

pub enum Signer {
    Local(PrivateKeySigner),
    Pkcs11(HsmSigner),
}

impl Signer {
    pub fn address(&self) -> Address {
        match self {
            Signer::Local(s) => s.address(),
            Signer::Pkcs11(h) => h.address,
        }
    }

    pub fn sign_hash(&self, hash: &B256) -> Result<Signature, String> {
        match self {
            Signer::Local(s) => s.sign_hash_sync(hash).map_err(|e| e.to_string()),
            Signer::Pkcs11(h) => h.sign(hash),
        }
    }
}

/// How a key in a token is protected, as the token reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Protection {
    pub extractable: bool,
    pub sensitive: bool,
    pub never_extractable: bool,
}

pub struct HsmSigner {
    session: Mutex<Session>,
    key: ObjectHandle,
    address: Address,
}

fn open_session(s: &Pkcs11Settings) -> Result<Session, String> {
    if !Path::new(&s.module).is_file() {
        return Err(format!("PKCS#11 module {} not found", s.module.display()));
    }
    let pkcs11 = Pkcs11::new(&s.module).map_err(|e| format!("PKCS#11 module {}: {e}", s.module.display()))?;
    pkcs11.initialize(CInitializeArgs::OsThreads).map_err(|e| format!("PKCS#11 initialize: {e}"))?;
    let slots = pkcs11.get_slots_with_token().map_err(|e| format!("PKCS#11 slots: {e}"))?;
    let slot = slots
        .into_iter()
        .find(|slot| pkcs11.get_token_info(*slot).is_ok_and(|t| t.label().trim() == s.token_label))
        .ok_or_else(|| format!("no PKCS#11 token labelled {:?}", s.token_label))?;
    let session = pkcs11.open_rw_session(slot).map_err(|e| format!("PKCS#11 session: {e}"))?;
    session
        .login(UserType::User, Some(&AuthPin::new(s.pin.trim().to_owned())))
        .map_err(|e| format!("PKCS#11 login to token {:?} refused (wrong PIN?): {e}", s.token_label))?;
    Ok(session)
}

fn find_key(session: &Session, class: ObjectClass, label: &str) -> Result<Option<ObjectHandle>, String> {
    let template =
        [Attribute::Class(class), Attribute::KeyType(KeyType::EC), Attribute::Label(label.as_bytes().to_vec())];
    let found = session.find_objects(&template).map_err(|e| format!("PKCS#11 find: {e}"))?;
    match found.len() {
        0 => Ok(None),
        1 => Ok(Some(found[0])),
        n => Err(format!("{n} keys are labelled {label:?}; labels must name one key")),
    }
}

/// The wallet address of an uncompressed secp256k1 point, as CKA_EC_POINT holds it (a DER
/// OCTET STRING around 0x04 ‖ X ‖ Y, or the bare point from some modules).
fn address_of_point(ec_point: &[u8]) -> Result<Address, String> {
    let point = match ec_point {
        [0x04, 0x41, rest @ ..] if rest.len() == 65 => rest,
        bare if bare.len() == 65 => bare,
        _ => return Err(format!("the token's public key is not an uncompressed point ({} bytes)", ec_point.len())),
    };
    if point[0] != 0x04 {
        return Err("the token's public key is not an uncompressed point".into());
    }
    Ok(Address::from_slice(&keccak256(&point[1..])[12..]))
}

fn bool_attribute(attributes: &[Attribute], wanted: AttributeType) -> Option<bool> {
    attributes.iter().find_map(|a| match (a, wanted) {
        (Attribute::Extractable(v), AttributeType::Extractable)
        | (Attribute::Sensitive(v), AttributeType::Sensitive)
        | (Attribute::NeverExtractable(v), AttributeType::NeverExtractable) => Some(*v),
        _ => None,
    })
}

impl HsmSigner {
    /// Logs in and finds the key pair labelled `key_label`; refuses a private key the token
    /// would let out.
    pub fn open(s: &Pkcs11Settings) -> Result<HsmSigner, String> {
        let session = open_session(s)?;
        let key = find_key(&session, ObjectClass::PRIVATE_KEY, &s.key_label)?.ok_or_else(|| {
            format!(
                "no private key labelled {:?} in token {:?}; make one with `payouts evm keygen`",
                s.key_label, s.token_label
            )
        })?;
        let protection = protection(&session, key)?;
        if protection.extractable || !protection.sensitive {
            return Err(format!(
                "the key labelled {:?} can leave the token (extractable or not sensitive); refusing to use it",
                s.key_label
            ));
        }
        let public = find_key(&session, ObjectClass::PUBLIC_KEY, &s.key_label)?
            .ok_or_else(|| format!("no public key labelled {:?} beside the private key", s.key_label))?;
        let address = public_address(&session, public)?;
        Ok(HsmSigner { session: Mutex::new(session), key, address })
    }

    pub fn address(&self) -> Address {
        self.address
    }

    pub fn protection(&self) -> Result<Protection, String> {
        let session = self.session.lock().unwrap_or_else(|p| p.into_inner());
        protection(&session, self.key)
    }

    pub fn sign(&self, hash: &B256) -> Result<Signature, String> {
        let raw = {
            let session = self.session.lock().unwrap_or_else(|p| p.into_inner());
            session.sign(&Mechanism::Ecdsa, self.key, hash.as_slice()).map_err(|e| format!("PKCS#11 sign: {e}"))?
        };
        if raw.len() != 64 {
            return Err(format!("PKCS#11 returned a {}-byte signature, not r ‖ s", raw.len()));
        }
        let r = U256::from_be_slice(&raw[..32]);
        let mut s = U256::from_be_slice(&raw[32..]);
        if s > ORDER >> 1 {
            s = ORDER - s;
        }
        [false, true]
            .into_iter()
            .map(|parity| Signature::new(r, s, parity))
            .find(|sig| sig.recover_address_from_prehash(hash).is_ok_and(|a| a == self.address))
            .ok_or_else(|| "the token's signature does not recover to the wallet's address".to_owned())
    }
}

fn protection(session: &Session, key: ObjectHandle) -> Result<Protection, String> {
    let wanted = [AttributeType::Extractable, AttributeType::Sensitive, AttributeType::NeverExtractable];
    let attributes = session.get_attributes(key, &wanted).map_err(|e| format!("PKCS#11 attributes: {e}"))?;
    Ok(Protection {
        // A token that does not say is taken at its worst.
        extractable: bool_attribute(&attributes, AttributeType::Extractable).unwrap_or(true),
        sensitive: bool_attribute(&attributes, AttributeType::Sensitive).unwrap_or(false),
        never_extractable: bool_attribute(&attributes, AttributeType::NeverExtractable).unwrap_or(false),
    })
}

fn public_address(session: &Session, public: ObjectHandle) -> Result<Address, String> {
    let attributes =
        session.get_attributes(public, &[AttributeType::EcPoint]).map_err(|e| format!("PKCS#11 attributes: {e}"))?;
    let point = attributes
        .iter()
        .find_map(|a| if let Attribute::EcPoint(p) = a { Some(p.clone()) } else { None })
        .ok_or("the token does not show the public key's point")?;
    address_of_point(&point)
}

/// Generates a secp256k1 key pair inside the token (private key sensitive, never extractable)
/// and returns its wallet address. A label already in use is refused.
pub fn generate(s: &Pkcs11Settings) -> Result<Address, String> {
    let session = open_session(s)?;
    if find_key(&session, ObjectClass::PRIVATE_KEY, &s.key_label)?.is_some() {
        return Err(format!("token {:?} already holds a key labelled {:?}", s.token_label, s.key_label));
    }
    let label = Attribute::Label(s.key_label.as_bytes().to_vec());
    let public_template =
        [Attribute::Token(true), Attribute::EcParams(SECP256K1_OID.to_vec()), Attribute::Verify(true), label.clone()];
    let private_template = [
        Attribute::Token(true),
        Attribute::Private(true),
        Attribute::Sensitive(true),
        Attribute::Extractable(false),
        Attribute::Sign(true),
        label,
    ];
    let (public, _) = session
        .generate_key_pair(&Mechanism::EccKeyPairGen, &public_template, &private_template)
        .map_err(|e| format!("PKCS#11 key generation: {e}"))?;
    public_address(&session, public)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_high_s_is_folded_and_the_point_gives_the_known_address() {
        // The address of private key 1: G's uncompressed point, DER-wrapped as CKA_EC_POINT.
        let g = alloy::hex::decode(
            "0479be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798\
             483ada7726a3c4655da4fbfc0e1108a8fd17b448a68554199c47d08ffb10d4b8",
        )
        .unwrap();
        let mut wrapped = vec![0x04, 0x41];
        wrapped.extend(&g);
        let expected: Address = "0x7E5F4552091A69125d5DfCb7b8C2659029395Bdf".parse().unwrap();
        assert_eq!(address_of_point(&wrapped).unwrap(), expected);
        assert_eq!(address_of_point(&g).unwrap(), expected);
        assert!(address_of_point(&g[..33]).is_err());
        assert!(ORDER - (ORDER >> 1) > ORDER >> 1, "n is odd: n - s ≤ n/2 for every high s");
    }
}
