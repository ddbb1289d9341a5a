//! Chat channels: a Slack-compatible incoming webhook (`{"text": …}`) and a Telegram bot
//! (`sendMessage`), sent through the same guarded HTTP client as webhooks (public addresses
//! only unless allowed, no redirects, no proxy).

use serde_json::json;

use super::mail::Outcome;

/// Sends `text` to a Slack-compatible incoming webhook, escaped as Slack asks, so that a
/// payout description such as `<!channel>` is shown as typed, never pinging or linking.
pub fn send_slack(agent: &ureq::Agent, url: &str, text: &str) -> Outcome {
    post(agent, url, &json!({ "text": slack_escape(text) }))
}

/// Slack's control characters in message text: `&`, `<` and `>`.
pub fn slack_escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

/// Sends `text` to a Telegram chat through the Bot API at `api` (https://api.telegram.org).
pub fn send_telegram(agent: &ureq::Agent, api: &url::Url, token: &str, chat_id: &str, text: &str) -> Outcome {
    let base = api.as_str().trim_end_matches('/');
    let url = format!("{base}/bot{token}/sendMessage");
    let outcome = post(agent, &url, &json!({ "chat_id": chat_id, "text": text, "disable_web_page_preview": true }));
    // The token is part of the URL: an error that quotes the URL must not keep it.
    match outcome {
        Outcome::Temporary(e) => Outcome::Temporary(e.replace(token, "<token>")),
        Outcome::Permanent(e) => Outcome::Permanent(e.replace(token, "<token>")),
        sent => sent,
    }
}

fn post(agent: &ureq::Agent, url: &str, body: &serde_json::Value) -> Outcome {
    match agent.post(url).header("Content-Type", "application/json").send(body.to_string().as_str()) {
        Ok(mut response) => {
            let code = response.status().as_u16();
            let text = response.body_mut().with_config().limit(2048).read_to_string().unwrap_or_default();
            let said: String = text.chars().filter(|c| !c.is_control()).take(200).collect();
            match code {
                200..=299 => Outcome::Sent,
                // Rate-limited or the receiver's own trouble: later.
                408 | 429 | 500..=599 => Outcome::Temporary(format!("HTTP {code}: {said}")),
                // A wrong URL, token or chat: retrying will not help; an admin must fix it.
                _ => Outcome::Permanent(format!("HTTP {code}: {said}")),
            }
        }
        Err(e) => Outcome::Temporary(e.to_string().chars().take(300).collect()),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn slack_text_cannot_mention_or_link() {
        assert_eq!(super::slack_escape("<!channel> & <https://x|y>"), "&lt;!channel&gt; &amp; &lt;https://x|y&gt;");
    }
}
