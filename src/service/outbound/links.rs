//! The one-time links people are sent: invitations (an admin's, or the command line's) and
//! password resets. The tokens are the access room's; this room writes and queues the emails.
//! A link is a secret: its email is marked sensitive and its body blanked once sent.

use askama::Template;
use chrono::NaiveDateTime;

use super::tell::{Notifier, queue_email};
use crate::db::{self, DbConnection};
use crate::domain::account::Role;
use crate::error::AppError;
use crate::service::access::invitations::{self, InviteForm, Issued};
use crate::service::access::{Actor, password_reset};

#[derive(Template)]
#[template(path = "mail/link.txt")]
struct LinkText<'a> {
    subject: &'a str,
    lines: &'a [String],
    link: &'a str,
    expires: &'a str,
}

#[derive(Template)]
#[template(path = "mail/link.html")]
struct LinkHtml<'a> {
    subject: &'a str,
    lines: &'a [String],
    link: &'a str,
    action: &'a str,
    expires: &'a str,
}

/// An invitation made: its link, to show once when no email goes out.
pub struct Invited {
    pub email: String,
    pub link: String,
    pub emailed: bool,
}

fn queue_invitation(
    conn: &mut DbConnection,
    n: &Notifier,
    issued: &Issued,
    reply_to: &str,
    at: NaiveDateTime,
) -> Result<Invited, AppError> {
    let inv = &issued.invitation;
    let link = n.url(&format!("/invitation/{}", issued.token));
    if n.mail {
        let role = Role::parse(&inv.role).map_or("user", Role::label);
        let subject = format!("You are invited to {} on Payouts", issued.org_name);
        let lines = vec![
            format!("{} invites you to {} on Payouts, as {role}.", issued.invited_by, issued.org_name),
            "Open the link to choose your password. Your organization may then ask you to set up a second factor."
                .to_owned(),
        ];
        let expires = format!("{} UTC", inv.expires_at.format("%Y-%m-%d %H:%M"));
        let text = LinkText { subject: &subject, lines: &lines, link: &link, expires: &expires }.render()?;
        let html = LinkHtml {
            subject: &subject,
            lines: &lines,
            link: &link,
            action: "Choose your password",
            expires: &expires,
        }
        .render()?;
        queue_email(conn, inv.org_id, &inv.email, reply_to, "invitation", &subject, text, html, true, at)?;
    }
    Ok(Invited { email: inv.email.clone(), link, emailed: n.mail })
}

/// Settings → Users → Invite.
pub fn invite(conn: &mut DbConnection, n: &Notifier, actor: &Actor, form: &InviteForm) -> Result<Invited, AppError> {
    let at = actor.now();
    db::write_tx(conn, |conn| {
        let issued = invitations::invite_in_tx(conn, actor.org_id, Some(actor), form, at)?;
        queue_invitation(conn, n, &issued, &actor.email, at)
    })
}

/// A new link for an open invitation (the old one stops working).
pub fn resend(conn: &mut DbConnection, n: &Notifier, actor: &Actor, id: i64) -> Result<Invited, AppError> {
    actor.require(Role::can_administer)?;
    let at = actor.now();
    db::write_tx(conn, |conn| {
        let old = db::invitations::find_in_org(conn, actor.org_id, id)?.ok_or(AppError::NotFound)?;
        if old.accepted_at.is_some() || old.revoked_at.is_some() {
            return Err(AppError::Conflict("This invitation was used or revoked; invite the person again.".into()));
        }
        let form = InviteForm { email: old.email.clone(), role: old.role.clone() };
        let issued = invitations::invite_in_tx(conn, actor.org_id, Some(actor), &form, at)?;
        queue_invitation(conn, n, &issued, &actor.email, at)
    })
}

/// `payouts user invite --email --role [--org]`.
pub fn invite_from_cli(
    conn: &mut DbConnection,
    n: &Notifier,
    org: Option<&str>,
    form: &InviteForm,
    at: NaiveDateTime,
) -> Result<Invited, AppError> {
    let orgs = db::orgs::list(conn)?;
    let org = match org {
        Some(name) => orgs.into_iter().find(|o| o.name == name),
        None if orgs.len() == 1 => orgs.into_iter().next(),
        None => {
            return Err(crate::domain::FieldErrors::single("--org", "several organizations exist; name one").into());
        }
    }
    .ok_or_else(|| crate::domain::FieldErrors::single("--org", "no organization has this name"))?;
    db::write_tx(conn, |conn| {
        let issued = invitations::invite_in_tx(conn, org.id, None, form, at)?;
        queue_invitation(conn, n, &issued, "", at)
    })
}

/// Issues the links of recorded reset requests, for real accounts only; returns how many requests
/// were handled.
pub fn handle_reset_requests(conn: &mut DbConnection, n: &Notifier, at: NaiveDateTime) -> Result<usize, AppError> {
    let open = db::invitations::open_reset_requests(conn, 100)?;
    for (id, email) in &open {
        db::write_tx(conn, |conn| {
            let Some((user, token)) = password_reset::issue_in_tx(conn, *id, email, at)? else {
                return Ok(());
            };
            if !n.mail {
                return Ok(());
            }
            let link = n.url(&format!("/password/reset/{token}"));
            let subject = "Reset your Payouts password".to_owned();
            let lines = vec![
                format!("Someone (we hope you) asked to reset the password of {} on Payouts.", user.email),
                "Open the link to choose a new one. Every session of your account ends when you do; a second \
                 factor, if you have one, is still asked at sign-in."
                    .to_owned(),
            ];
            let expires = format!(
                "{} UTC",
                (at + chrono::Duration::minutes(password_reset::VALID_MINUTES)).format("%Y-%m-%d %H:%M")
            );
            let text = LinkText { subject: &subject, lines: &lines, link: &link, expires: &expires }.render()?;
            let html = LinkHtml {
                subject: &subject,
                lines: &lines,
                link: &link,
                action: "Choose a new password",
                expires: &expires,
            }
            .render()?;
            queue_email(conn, user.org_id, &user.email, "", "password_reset", &subject, text, html, true, at)?;
            Ok::<_, AppError>(())
        })?;
    }
    db::invitations::purge_reset_requests(conn, at - chrono::Duration::days(2))?;
    Ok(open.len())
}
