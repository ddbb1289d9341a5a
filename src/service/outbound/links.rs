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

/// A payee's link made (an invitation or a sign-in link): shown once where no email goes out.
pub struct PayeeLinked {
    pub payee_id: i64,
    pub email: String,
    pub link: String,
    pub emailed: bool,
    pub expires_at: NaiveDateTime,
}

fn queue_payee_link(
    conn: &mut DbConnection,
    n: &Notifier,
    issued: &crate::service::portal::links::Issued,
    at: NaiveDateTime,
) -> Result<PayeeLinked, AppError> {
    use crate::service::portal::links::{INVITE_HOURS, Purpose, SIGN_IN_MINUTES};
    let link = n.url(&format!("/payee/link/{}", issued.token));
    let payee = &issued.payee;
    if n.mail {
        let (subject, lines, action, kind) = match issued.purpose {
            Purpose::Invite => (
                format!("{} invites you to your payments page", issued.org_name),
                vec![
                    format!(
                        "{} pays you through Payouts. On your page you give the address you are paid at, proven with \
                             a signature from its wallet, and see what you were paid.",
                        issued.org_name
                    ),
                    format!("The link works once, for {INVITE_HOURS} hours. Later, sign in with this email address."),
                ],
                "Open your page",
                "payee_invitation",
            ),
            Purpose::SignIn => (
                format!("Your sign-in link for {}", issued.org_name),
                vec![
                    format!("Someone asked to sign in to your payments page from {}.", issued.org_name),
                    format!(
                        "The link works once, for {SIGN_IN_MINUTES} minutes. If it was not you, ignore this email."
                    ),
                ],
                "Sign in",
                "payee_sign_in",
            ),
        };
        let expires = format!("{} UTC", issued.expires_at.format("%Y-%m-%d %H:%M"));
        let text = LinkText { subject: &subject, lines: &lines, link: &link, expires: &expires }.render()?;
        let html = LinkHtml { subject: &subject, lines: &lines, link: &link, action, expires: &expires }.render()?;
        queue_email(conn, payee.org_id, &payee.email, "", kind, &subject, text, html, true, at)?;
    }
    Ok(PayeeLinked {
        payee_id: payee.id,
        email: payee.email.clone(),
        link,
        emailed: n.mail,
        expires_at: issued.expires_at,
    })
}

/// A payee's page → Invite: the link by email (72 hours).
pub fn invite_payee(
    conn: &mut DbConnection,
    n: &Notifier,
    actor: &Actor,
    payee_id: i64,
) -> Result<PayeeLinked, AppError> {
    let at = actor.now();
    db::write_tx(conn, |conn| {
        let issued = crate::service::portal::links::invite_in_tx(conn, actor, payee_id, at)?;
        queue_payee_link(conn, n, &issued, at)
    })
}

/// The payee sign-in form: a link to each payee with this email (15 minutes); nothing is said
/// of whether there was any.
pub fn payee_sign_in(conn: &mut DbConnection, n: &Notifier, email: &str, at: NaiveDateTime) -> Result<(), AppError> {
    db::write_tx(conn, |conn| {
        for issued in crate::service::portal::links::sign_in_links_in_tx(conn, email, at)? {
            queue_payee_link(conn, n, &issued, at)?;
        }
        Ok(())
    })
}

/// A claim's email or reminder: `lines` say what is owed and until when; the link opens the
/// payee's page (72 hours; later they sign in with their email).
pub(super) fn queue_claim_link(
    conn: &mut DbConnection,
    n: &Notifier,
    issued: &crate::service::portal::links::Issued,
    subject: &str,
    mut lines: Vec<String>,
    at: NaiveDateTime,
) -> Result<(), AppError> {
    use crate::service::portal::links::INVITE_HOURS;
    let link = n.url(&format!("/payee/link/{}", issued.token));
    lines.push(format!("The link works once, for {INVITE_HOURS} hours. Later, sign in with this email address."));
    let expires = format!("{} UTC", issued.expires_at.format("%Y-%m-%d %H:%M"));
    let text = LinkText { subject, lines: &lines, link: &link, expires: &expires }.render()?;
    let html =
        LinkHtml { subject, lines: &lines, link: &link, action: "Give your address", expires: &expires }.render()?;
    let payee = &issued.payee;
    queue_email(conn, payee.org_id, &payee.email, "", "payee_claim", subject, text, html, true, at).map(|_| ())
}
