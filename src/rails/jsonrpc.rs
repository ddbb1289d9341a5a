//! One JSON-RPC exchange over HTTP, shared by every family's client (EVM and Solana speak 2.0,
//! Bitcoin Core's family 1.0; the envelope is the caller's): the body posted, the answer read
//! within a size limit and split into its result or the node's error. Credentials travel only in
//! the Authorization header and appear in no error.

use serde_json::Value;

/// What the node answered.
pub enum Answer {
    Result(Value),
    /// The node's own error, its message cut to 300 characters (it may reach a log or a page).
    Error {
        code: i64,
        message: String,
    },
    /// HTTP 401: the credentials were refused.
    Unauthorized,
}

/// Posts `body` to `url`; Err (naming `method`) when the node cannot be reached or answers
/// something that is no JSON-RPC answer — whether a send arrived is then unknown.
pub fn exchange(
    agent: &ureq::Agent,
    url: &str,
    authorization: Option<&str>,
    method: &str,
    body: &Value,
) -> Result<Answer, String> {
    let transport = |e: &dyn std::fmt::Display| format!("{method}: {e}");
    let mut request = agent.post(url).header("Content-Type", "application/json");
    if let Some(authorization) = authorization {
        request = request.header("Authorization", authorization);
    }
    let mut response = request.send(body.to_string()).map_err(|e| transport(&e))?;
    let status = response.status().as_u16();
    if status == 401 {
        return Ok(Answer::Unauthorized);
    }
    // Errors come with HTTP 4xx/5xx and a JSON body saying why; a large block or transaction
    // (a thousand outputs decoded) stays well under the limit.
    let text = response.body_mut().with_config().limit(16 << 20).read_to_string().map_err(|e| transport(&e))?;
    let answer: Value =
        serde_json::from_str(&text).map_err(|_| transport(&format!("HTTP {status} and no JSON-RPC answer")))?;
    Ok(match answer.get("error") {
        Some(e) if !e.is_null() => Answer::Error {
            code: e.get("code").and_then(Value::as_i64).unwrap_or_default(),
            message: e.get("message").and_then(Value::as_str).unwrap_or("unknown error").chars().take(300).collect(),
        },
        _ => Answer::Result(answer.get("result").cloned().unwrap_or(Value::Null)),
    })
}
