//! Chat channels: a Slack-compatible incoming webhook (`{"text": …}`) and a Telegram bot
//! (`sendMessage`), sent through the same guarded HTTP client as webhooks (public addresses
//! only unless allowed, no redirects, no proxy).

use serde_json::json;

use super::mail::Outcome;

/// Sends `text` to a Slack-compatible incoming webhook as plain text: what people typed (a
/// payout's description, a reason) is shown as typed — `*bold*`, `` `code` ``, `<!channel>`,
/// `@channel` and links stay characters, never formatting, a ping or a preview.
pub fn send_slack(agent: &ureq::Agent, url: &str, text: &str) -> Outcome {
    post(agent, url, &slack_message(text))
}

/// The message: a `plain_text` section (Block Kit applies no mrkdwn, mentions or links to it),
/// and the fallback `text` (notifications, old clients) escaped as Slack asks, with mrkdwn off,
/// names not linked and nothing unfurled.
pub fn slack_message(text: &str) -> serde_json::Value {
    // A section's text holds at most 3,000 characters.
    let shown: String = text.chars().take(3000).collect();
    json!({
        "text": slack_escape(text),
        "mrkdwn": false,
        "link_names": false,
        "unfurl_links": false,
        "unfurl_media": false,
        "blocks": [{ "type": "section", "text": { "type": "plain_text", "text": shown, "emoji": false } }],
    })
}

/// Slack's control characters in message text: `&`, `<` and `>`.
pub fn slack_escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

/// Sends `text` to a Telegram chat through the Bot API at `api` (https://api.telegram.org).
pub fn send_telegram(agent: &ureq::Agent, api: &url::Url, token: &str, chat_id: &str, text: &str) -> Outcome {
    let base = api.as_str().trim_end_matches('/');
    let url = format!("{base}/bot{token}/sendMessage");
    let outcome = post(agent, &url, &telegram_message(chat_id, text));
    // The token is part of the URL: an error that quotes the URL must not keep it.
    match outcome {
        Outcome::Temporary(e) => Outcome::Temporary(e.replace(token, "<token>")),
        Outcome::Permanent(e) => Outcome::Permanent(e.replace(token, "<token>")),
        sent => sent,
    }
}

/// Telegram shows a message without `parse_mode` as typed (no Markdown, no HTML); the text's
/// links and names are marked by nothing but Telegram's own detection, and no link is previewed.
pub fn telegram_message(chat_id: &str, text: &str) -> serde_json::Value {
    json!({
        "chat_id": chat_id,
        "text": text,
        "disable_web_page_preview": true,
        "link_preview_options": { "is_disabled": true },
    })
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
    fn slack_gets_typed_text_as_plain_text() {
        let typed = "Pay *bold* `code` https://evil.example @channel <!here> & done";
        let m = super::slack_message(typed);
        assert_eq!(m["mrkdwn"], false);
        assert_eq!(m["link_names"], false);
        assert_eq!(m["unfurl_links"], false);
        assert_eq!(m["blocks"][0]["text"]["type"], "plain_text");
        assert_eq!(m["blocks"][0]["text"]["text"], typed);
        assert_eq!(m["text"], "Pay *bold* `code` https://evil.example @channel &lt;!here&gt; &amp; done");
        let t = super::telegram_message("1", typed);
        assert!(t.get("parse_mode").is_none());
        assert_eq!(t["text"], typed);
    }

    #[test]
    fn slack_text_cannot_mention_or_link() {
        assert_eq!(super::slack_escape("<!channel> & <https://x|y>"), "&lt;!channel&gt; &amp; &lt;https://x|y&gt;");
    }
}
