//! Security keys (WebAuthn) on every backend, with a software key that signs what a real one
//! signs: registration checked against the origin, signing in with a key, an answer accepted
//! once, a cloned key's stale counter refused, a key touch as the step-up for an approval,
//! removal, and a key as the factor a new organization's admin sets up.

mod common;

use actix_web::http::StatusCode;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use common::{TRON_ADDRESS, TestApp, backends, json_of, payout_id_of};
use diesel::prelude::*;
use p256::ecdsa::signature::Signer;
use p256::ecdsa::{Signature, SigningKey};
use payouts::db::schema::{audit_log, security_keys, sessions, users};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

/// Where the tests' server says it is (the default public URL).
const ORIGIN: &str = "http://localhost:8080";

fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

fn cbor_head(major: u8, len: usize) -> Vec<u8> {
    let m = major << 5;
    match len {
        0..=23 => vec![m | len as u8],
        24..=255 => vec![m | 24, len as u8],
        _ => [vec![m | 25], (len as u16).to_be_bytes().to_vec()].concat(),
    }
}

fn cbor_bytes(b: &[u8]) -> Vec<u8> {
    [cbor_head(2, b.len()), b.to_vec()].concat()
}

fn cbor_text(t: &str) -> Vec<u8> {
    [cbor_head(3, t.len()), t.as_bytes().to_vec()].concat()
}

/// A security key in software: a P-256 key pair, a credential id and a signature counter.
#[derive(Clone)]
struct SoftKey {
    key: SigningKey,
    id: Vec<u8>,
    counter: u32,
}

impl SoftKey {
    fn new(seed: u8) -> SoftKey {
        let secret = Sha256::digest([seed; 32]);
        SoftKey { key: SigningKey::from_slice(&secret).unwrap(), id: vec![seed; 32], counter: 0 }
    }

    /// The public key as a COSE map: EC2, ES256, P-256, x, y.
    fn cose_key(&self) -> Vec<u8> {
        let point = self.key.verifying_key().to_sec1_point(false);
        let (x, y) = (&point.as_bytes()[1..33], &point.as_bytes()[33..65]);
        [vec![0xa5, 0x01, 0x02, 0x03, 0x26, 0x20, 0x01, 0x21], cbor_bytes(x), vec![0x22], cbor_bytes(y)].concat()
    }

    fn client_data(kind: &str, options: &Value, origin: &str) -> Vec<u8> {
        let challenge = options["publicKey"]["challenge"].as_str().expect("a challenge");
        serde_json::to_vec(&json!({"type": kind, "challenge": challenge, "origin": origin, "crossOrigin": false}))
            .unwrap()
    }

    /// What `navigator.credentials.create` returns, as static/webauthn.js sends it.
    fn register(&self, options: &Value, origin: &str) -> String {
        let rp_id = options["publicKey"]["rp"]["id"].as_str().expect("an rp id");
        let mut auth = Sha256::digest(rp_id.as_bytes()).to_vec();
        auth.push(0x45); // user present, user verified, attested credential data
        auth.extend(self.counter.to_be_bytes());
        auth.extend([0u8; 16]);
        auth.extend((self.id.len() as u16).to_be_bytes());
        auth.extend(&self.id);
        auth.extend(self.cose_key());
        let attestation = [
            vec![0xa3],
            cbor_text("fmt"),
            cbor_text("none"),
            cbor_text("attStmt"),
            vec![0xa0],
            cbor_text("authData"),
            cbor_bytes(&auth),
        ]
        .concat();
        let client = Self::client_data("webauthn.create", options, origin);
        json!({"id": b64(&self.id), "rawId": b64(&self.id), "type": "public-key", "clientExtensionResults": {},
            "response": {"attestationObject": b64(&attestation), "clientDataJSON": b64(&client)}})
        .to_string()
    }

    /// What `navigator.credentials.get` returns: a signature over the authenticator data and the
    /// client data's digest, with the counter one higher.
    fn sign(&mut self, options: &Value, origin: &str) -> String {
        self.counter += 1;
        let rp_id = options["publicKey"]["rpId"].as_str().expect("an rp id");
        let mut auth = Sha256::digest(rp_id.as_bytes()).to_vec();
        auth.push(0x05); // user present, user verified
        auth.extend(self.counter.to_be_bytes());
        let client = Self::client_data("webauthn.get", options, origin);
        let signed = [auth.clone(), Sha256::digest(&client).to_vec()].concat();
        let signature: Signature = self.key.sign(&signed);
        json!({"id": b64(&self.id), "rawId": b64(&self.id), "type": "public-key", "clientExtensionResults": {},
            "response": {"authenticatorData": b64(&auth), "clientDataJSON": b64(&client),
                "signature": b64(signature.to_der().as_bytes()), "userHandle": null}})
        .to_string()
    }
}

fn key_names(app: &TestApp, email: &str) -> Vec<String> {
    security_keys::table
        .inner_join(users::table)
        .filter(users::email.eq(email))
        .select(security_keys::name)
        .load(&mut **app.conn())
        .unwrap()
}

fn audit_details(app: &TestApp, action: &str) -> Vec<String> {
    audit_log::table.filter(audit_log::action.eq(action)).select(audit_log::detail).load(&mut **app.conn()).unwrap()
}

macro_rules! add_key {
    ($c:expr, $backend:expr, $key:expr, $name:expr) => {{
        $c.get("/account/security").await;
        let options = $c.post_script("/account/security/keys/begin").await;
        assert_eq!(options.status, StatusCode::OK, "[{:?}] {}", $backend, options.body);
        let answer = $key.register(&json_of(&options), ORIGIN);
        $c.post_form("/account/security/keys", &[("name", $name), ("credential", &answer)]).await
    }};
}

macro_rules! sign_in_with_key {
    ($c:expr, $email:expr, $key:expr) => {{
        $c.post_form("/logout", &[]).await;
        $c.get("/login").await;
        let res = $c.post_form("/login", &[("email", $email), ("password", "demo")]).await;
        assert_eq!(res.location(), Some("/login/second-factor"));
        let page = $c.get("/login/second-factor").await;
        assert!(page.body.contains("Use your security key"), "{}", page.body);
        let options = json_of(&$c.post_script("/login/second-factor/key/begin").await);
        let answer = $key.sign(&options, ORIGIN);
        ($c.post_form("/login/second-factor/key", &[("credential", &answer)]).await, options, answer)
    }};
}

#[actix_web::test]
async fn a_key_registers_for_this_origin_only_and_then_signs_in_with_each_answer_once() {
    for backend in backends() {
        let app = TestApp::start(backend).await;
        let mut c = app.client().await;
        c.login("manager@demo.local", "demo").await;
        let page = c.get("/account/security").await;
        assert!(page.body.contains("Add a security key"), "[{backend:?}]");

        let options = json_of(&c.post_script("/account/security/keys/begin").await);
        assert_eq!(options["publicKey"]["rp"]["id"], "localhost", "[{backend:?}]");
        assert_eq!(options["publicKey"]["user"]["name"], "manager@demo.local");
        assert_ne!(options["publicKey"]["user"]["id"], b64(b"1"), "the user handle does not give the id away");
        let key = SoftKey::new(7);
        let phished = c
            .post_form(
                "/account/security/keys",
                &[("name", "k"), ("credential", &key.register(&options, "http://evil.example"))],
            )
            .await;
        assert_eq!(phished.status, StatusCode::UNPROCESSABLE_ENTITY, "[{backend:?}] another site's answer");
        assert!(phished.body.contains("could not be verified"), "[{backend:?}] {}", phished.body);
        assert!(key_names(&app, "manager@demo.local").is_empty(), "[{backend:?}] nothing stored");

        let no_script = c.post_form("/account/security/keys", &[("name", "k"), ("credential", "")]).await;
        assert_eq!(no_script.status, StatusCode::UNPROCESSABLE_ENTITY, "[{backend:?}]");
        assert!(no_script.body.contains("need JavaScript"), "[{backend:?}]");

        c.get("/account/security").await;
        let options = json_of(&c.post_script("/account/security/keys/begin").await);
        let answer = key.register(&options, ORIGIN);
        let added = c.post_form("/account/security/keys", &[("name", "  YubiKey 5C "), ("credential", &answer)]).await;
        assert_eq!(added.status, StatusCode::OK, "[{backend:?}] {}", added.body);
        assert!(added.body.contains("Your recovery codes"), "[{backend:?}] a first factor comes with recovery codes");
        assert_eq!(key_names(&app, "manager@demo.local"), ["YubiKey 5C"], "[{backend:?}]");
        let again = c.post_form("/account/security/keys", &[("name", "x"), ("credential", &answer)]).await;
        assert_eq!(again.status, StatusCode::UNPROCESSABLE_ENTITY, "[{backend:?}] an answer registers once");
        assert_eq!(key_names(&app, "manager@demo.local").len(), 1);
        assert!(c.get("/account/security").await.body.contains("YubiKey 5C"));

        // Signing in: the password, then the key.
        let mut stranger = SoftKey::new(9);
        c.post_form("/logout", &[]).await;
        c.get("/login").await;
        c.post_form("/login", &[("email", "manager@demo.local"), ("password", "demo")]).await;
        c.get("/login/second-factor").await;
        let options = json_of(&c.post_script("/login/second-factor/key/begin").await);
        assert_eq!(options["publicKey"]["allowCredentials"][0]["id"], b64(&key.id), "[{backend:?}]");
        let wrong = c.post_form("/login/second-factor/key", &[("credential", &stranger.sign(&options, ORIGIN))]).await;
        assert_eq!(wrong.status, StatusCode::UNPROCESSABLE_ENTITY, "[{backend:?}] a key that is not theirs");
        assert_eq!(c.get("/approvals").await.location(), Some("/login/second-factor?next=%2Fapprovals"));

        let mut key = key;
        let (ok, _, answer) = sign_in_with_key!(c, "manager@demo.local", key);
        assert_eq!(ok.location(), Some("/"), "[{backend:?}] {}", ok.body);
        assert_eq!(c.get("/approvals").await.status, StatusCode::OK, "[{backend:?}] signed in");
        assert!(audit_details(&app, "login.second_factor").iter().any(|d| d.contains("YubiKey 5C")), "[{backend:?}]");

        // The same answer again, in a new sign-in: its challenge is gone.
        c.post_form("/logout", &[]).await;
        c.get("/login").await;
        c.post_form("/login", &[("email", "manager@demo.local"), ("password", "demo")]).await;
        c.get("/login/second-factor").await;
        c.post_script("/login/second-factor/key/begin").await;
        let replay = c.post_form("/login/second-factor/key", &[("credential", &answer)]).await;
        assert_eq!(replay.status, StatusCode::UNPROCESSABLE_ENTITY, "[{backend:?}] an answer is accepted once");

        // A copy of the key whose counter is behind the real one's is taken for a clone.
        let mut clone = key.clone();
        clone.counter = 0;
        let options = json_of(&c.post_script("/login/second-factor/key/begin").await);
        let cloned = c.post_form("/login/second-factor/key", &[("credential", &clone.sign(&options, ORIGIN))]).await;
        assert_eq!(cloned.status, StatusCode::UNPROCESSABLE_ENTITY, "[{backend:?}] a stale counter");
        let options = json_of(&c.post_script("/login/second-factor/key/begin").await);
        let ok = c.post_form("/login/second-factor/key", &[("credential", &key.sign(&options, ORIGIN))]).await;
        assert_eq!(ok.location(), Some("/"), "[{backend:?}] the real key still works: {}", ok.body);
        let failures: i32 = users::table
            .filter(users::email.eq("manager@demo.local"))
            .select(users::failed_logins)
            .first(&mut **app.conn())
            .unwrap();
        assert_eq!(failures, 0, "[{backend:?}] a right key ends the run of failures");
        assert!(audit_details(&app, "login.failed").iter().any(|d| d.contains("wrong security key answer")));
    }
}

#[actix_web::test]
async fn a_key_touch_is_the_step_up_for_an_approval_over_the_threshold() {
    for backend in backends() {
        let app = TestApp::start(backend).await;
        let admin = common::actor(&app, "admin@demo.local");
        let required = [("required", "yes"), ("needed", "1")].map(|(k, v)| (k.to_string(), v.to_string()));
        payouts::service::payouts::approvals::set_policy(&mut app.conn(), &admin, &required).unwrap();
        let mut a = app.client().await;
        a.login("accountant@demo.local", "demo").await;
        let big = payout_id_of(&a.single_payout("USDT_TRC20", "500", TRON_ADDRESS, "key step-up").await);
        let other = payout_id_of(&a.single_payout("USDT_TRC20", "300", TRON_ADDRESS, "api").await);
        // Set after creating: confirming over the threshold would ask the accountant too.
        let fields = [("threshold_USDT_TRC20".to_string(), "100".to_string())];
        payouts::service::access::second_factor::set_policy(&mut app.conn(), &admin, &fields).unwrap();

        let mut m = app.client().await;
        m.login("manager@demo.local", "demo").await;
        let mut key = SoftKey::new(3);
        assert_eq!(add_key!(m, backend, key, "Desk key").status, StatusCode::OK, "[{backend:?}]");
        common::age_step_up(&app, "manager@demo.local");
        let page = m.get(&format!("/payouts/{big}")).await;
        assert!(page.body.contains("confirm it's you with your security key"), "[{backend:?}] {}", page.body);
        let refused = m.post_form(&format!("/payouts/{big}/approve"), &[]).await;
        assert_eq!(refused.status, StatusCode::FORBIDDEN, "[{backend:?}]");
        assert!(refused.body.contains("security key"), "[{backend:?}] {}", refused.body);

        let step_up = m.get("/step-up?next=/approvals").await;
        assert!(step_up.body.contains("Confirm with your security key"), "[{backend:?}]");
        let options = json_of(&m.post_script("/step-up/key/begin").await);
        let wrong = m
            .post_form("/step-up/key?next=/approvals", &[("credential", &key.sign(&options, "http://evil.example"))])
            .await;
        assert_eq!(wrong.status, StatusCode::UNPROCESSABLE_ENTITY, "[{backend:?}] another site's answer");
        let options = json_of(&m.post_script("/step-up/key/begin").await);
        let done = m.post_form("/step-up/key?next=/approvals", &[("credential", &key.sign(&options, ORIGIN))]).await;
        assert_eq!(done.location(), Some("/approvals"), "[{backend:?}] {}", done.body);
        m.get(&format!("/payouts/{big}")).await;
        let approved = m.post_form(&format!("/payouts/{big}/approve"), &[]).await;
        assert_eq!(approved.status, StatusCode::SEE_OTHER, "[{backend:?}] {}", approved.body);
        assert_eq!(payouts::db::payouts::find(&mut app.conn(), big).unwrap().status.as_str().to_owned(), "in_progress");

        // The API cannot take a key touch: a key-only owner's API key is told why.
        let api = common::api_key(&app, "manager@demo.local", "read,approve");
        let res = m.send(common::api_request("POST", &format!("/api/v1/payouts/{other}/approve"), &api, None)).await;
        assert_eq!(res.status, StatusCode::FORBIDDEN, "[{backend:?}] {}", res.body);
        assert!(res.body.contains("X-OTP"), "[{backend:?}] {}", res.body);
    }
}

#[actix_web::test]
async fn the_same_key_answer_sent_twice_at_the_same_instant_is_accepted_once() {
    for backend in backends() {
        let app = TestApp::start(backend).await;
        let mut m = app.client().await;
        m.login("manager@demo.local", "demo").await;
        let mut key = SoftKey::new(5);
        add_key!(m, backend, key, "k");
        m.get("/step-up").await;
        let options = json_of(&m.post_script("/step-up/key/begin").await);
        let answer = key.sign(&options, ORIGIN);
        let user: i64 = users::table
            .filter(users::email.eq("manager@demo.local"))
            .select(users::id)
            .first(&mut **app.conn())
            .unwrap();
        let session: i64 =
            sessions::table.filter(sessions::user_id.eq(user)).select(sessions::id).first(&mut **app.conn()).unwrap();
        let rp = app.state.webauthn.clone();
        let results = common::at_once(&app, 4, |conn| {
            payouts::service::access::security_keys::step_up(conn, &rp, user, session, &answer, payouts::clock::now())
                .is_ok()
        });
        let accepted = results.into_iter().filter(|ok| *ok).count();
        assert_eq!(accepted, 1, "[{backend:?}]");
    }
}

#[actix_web::test]
async fn removing_a_key_asks_a_fresh_proof_and_keeps_the_factor_the_policy_requires() {
    for backend in backends() {
        let app = TestApp::start(backend).await;
        let mut m = app.client().await;
        m.login("manager@demo.local", "demo").await;
        let mut key = SoftKey::new(11);
        add_key!(m, backend, key, "Old key");
        let id: i64 = security_keys::table.select(security_keys::id).first(&mut **app.conn()).unwrap();

        // A second key, after the first exists, needs a fresh proof like any change of factors.
        common::age_step_up(&app, "manager@demo.local");
        m.get("/account/security").await;
        let refused = m.post_script("/account/security/keys/begin").await;
        assert_eq!(refused.status, StatusCode::FORBIDDEN, "[{backend:?}]");
        assert!(json_of(&refused)["message"].as_str().unwrap().contains("fresh second factor"), "[{backend:?}]");
        let refused = m.post_form(&format!("/account/security/keys/{id}/remove"), &[]).await;
        assert_eq!(refused.status, StatusCode::FORBIDDEN, "[{backend:?}]");
        assert_eq!(key_names(&app, "manager@demo.local").len(), 1);

        m.get("/step-up").await;
        let options = json_of(&m.post_script("/step-up/key/begin").await);
        m.post_form("/step-up/key", &[("credential", &key.sign(&options, ORIGIN))]).await;

        // Where the policy requires a factor, the last one stays.
        let admin = common::actor(&app, "admin@demo.local");
        let on = [("staff".to_string(), "yes".to_string())];
        payouts::service::access::second_factor::set_policy(&mut app.conn(), &admin, &on).unwrap();
        m.get("/account/security").await;
        let kept = m.post_form(&format!("/account/security/keys/{id}/remove"), &[]).await;
        assert_eq!(kept.status, StatusCode::FORBIDDEN, "[{backend:?}]");
        assert!(kept.body.contains("requires a second factor"), "[{backend:?}]");

        payouts::service::access::second_factor::set_policy(&mut app.conn(), &admin, &[]).unwrap();
        let other = m.post_form("/account/security/keys/999999/remove", &[]).await;
        assert_eq!(other.status, StatusCode::NOT_FOUND, "[{backend:?}]");
        let removed = m.post_form(&format!("/account/security/keys/{id}/remove"), &[]).await;
        assert_eq!(removed.status, StatusCode::SEE_OTHER, "[{backend:?}] {}", removed.body);
        assert!(key_names(&app, "manager@demo.local").is_empty(), "[{backend:?}]");
        let codes: i64 = payouts::db::factors::unused_recovery_codes(
            &mut app.conn(),
            common::actor(&app, "manager@demo.local").user_id,
        )
        .unwrap();
        assert_eq!(codes, 0, "[{backend:?}] no factor left, no recovery codes");
        assert!(audit_details(&app, "second_factor.key_removed").contains(&"Old key".to_string()));
        // Signing in again asks nothing more than the password.
        m.post_form("/logout", &[]).await;
        m.login("manager@demo.local", "demo").await;
        assert_eq!(m.get("/approvals").await.status, StatusCode::OK, "[{backend:?}]");
    }
}

#[actix_web::test]
async fn a_new_organizations_admin_may_set_up_a_key_as_the_required_factor() {
    for backend in backends() {
        let app = TestApp::start(backend).await;
        payouts::service::payouts::bootstrap::add_user_from_cli(
            &mut app.conn(),
            "boss@new.example",
            "admin",
            "long password 1",
            Some("New Org"),
        )
        .unwrap();
        let mut c = app.client().await;
        c.login("boss@new.example", "long password 1").await;
        assert_eq!(c.get("/payouts").await.location(), Some("/account/security"), "[{backend:?}]");
        let page = c.get("/account/security").await;
        assert!(page.body.contains("or add a security key"), "[{backend:?}]");
        let added = add_key!(c, backend, SoftKey::new(21), "");
        assert_eq!(added.status, StatusCode::OK, "[{backend:?}] {}", added.body);
        assert!(added.body.contains("Your recovery codes"), "[{backend:?}]");
        assert_eq!(key_names(&app, "boss@new.example"), ["Security key 1"], "[{backend:?}] a name is given");
        assert_eq!(c.get("/payouts").await.status, StatusCode::OK, "[{backend:?}] enrolled, everything opens");
    }
}
