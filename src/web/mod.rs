//! HTTP: routes, middleware, extractors and page handlers. Handlers hold no business rules.

pub mod api;
pub mod assets;
pub mod context;
pub mod csrf;
pub mod datetime;
pub mod error_page;
pub mod health;
pub mod layout;
pub mod metrics;
pub mod next;
pub mod pages;
pub mod panics;
pub mod payee_session;
pub mod request;
pub mod request_log;
pub mod security;

use actix_web::http::StatusCode;
use actix_web::middleware::from_fn;
use actix_web::{HttpResponse, web};
use askama::Template;

use crate::error::AppError;

/// The route table, shared by `main` and the tests.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::scope("")
            .wrap(from_fn(panics::catch_panics))
            .wrap(from_fn(context::session_layer))
            .wrap(from_fn(payee_session::guard))
            .wrap(from_fn(security::secret_pages))
            .wrap(security::headers())
            .wrap(from_fn(request_log::request_log))
            .route("/healthz", web::get().to(health::healthz))
            .route("/metrics", web::get().to(metrics::scrape))
            .route("/api/openapi.json", web::get().to(api::openapi_json))
            .route("/api/docs", web::get().to(pages::api_docs::show))
            .service(
                web::scope("/api/v1")
                    .wrap(from_fn(api::problem_errors))
                    .app_data(web::PathConfig::default().error_handler(|_, _| api::ApiError(AppError::NotFound).into()))
                    .app_data(web::QueryConfig::default().error_handler(|e, _| {
                        api::ApiError(
                            crate::domain::FieldErrors::form(format!("The query string is invalid: {e}")).into(),
                        )
                        .into()
                    }))
                    .service(api::resource("/assets").route(web::get().to(api::payouts::assets)))
                    .service(api::resource("/balances").route(web::get().to(api::payouts::balances)))
                    .service(api::resource("/addresses/validate").route(web::post().to(api::payouts::validate_address)))
                    .service(api::resource("/payouts/quote").route(web::post().to(api::payouts::quote)))
                    .service(
                        api::resource("/payouts")
                            .route(web::post().to(api::payouts::create))
                            .route(web::get().to(api::payouts::list)),
                    )
                    .service(api::resource("/claims").route(web::get().to(api::payouts::claims)))
                    .service(api::resource("/payouts/{id}").route(web::get().to(api::payouts::get)))
                    .service(api::resource("/payouts/{id}/approve").route(web::post().to(api::payouts::approve)))
                    .service(api::resource("/payouts/{id}/reject").route(web::post().to(api::payouts::reject)))
                    .service(api::resource("/payouts/{id}/cancel").route(web::post().to(api::payouts::cancel)))
                    .service(
                        api::resource("/payees")
                            .route(web::get().to(api::payees::list))
                            .route(web::post().to(api::payees::create)),
                    )
                    .service(
                        api::resource("/payees/{id}")
                            .route(web::get().to(api::payees::get))
                            .route(web::put().to(api::payees::update)),
                    )
                    .service(api::resource("/payees/{id}/archive").route(web::post().to(api::payees::archive)))
                    .service(api::resource("/payees/{id}/restore").route(web::post().to(api::payees::restore)))
                    .service(api::resource("/payees/{id}/addresses").route(web::post().to(api::payees::enter_address)))
                    .service(api::resource("/payees/{id}/invite").route(web::post().to(api::payees::invite)))
                    .service(api::resource("/payee-addresses/pending").route(web::get().to(api::payees::pending)))
                    .service(api::resource("/payee-addresses/{id}/approve").route(web::post().to(api::payees::approve)))
                    .service(api::resource("/payee-addresses/{id}/reject").route(web::post().to(api::payees::reject)))
                    .service(
                        api::resource("/schedules")
                            .route(web::get().to(api::schedules::schedules))
                            .route(web::post().to(api::schedules::create_schedule)),
                    )
                    .service(
                        api::resource("/schedules/{id}/pause").route(web::post().to(api::schedules::pause_schedule)),
                    )
                    .service(
                        api::resource("/schedules/{id}/resume").route(web::post().to(api::schedules::resume_schedule)),
                    )
                    .service(api::resource("/notifications").route(web::get().to(api::notifications::list)))
                    .default_service(web::to(api::not_found)),
            )
            // Any other path under /api answers as the API does.
            .service(web::scope("/api").wrap(from_fn(api::problem_errors)).default_service(web::to(api::not_found)))
            .route("/static/{name}", web::get().to(assets::serve))
            // Pages without the layout's icon link (the API docs) make browsers ask for this.
            .route("/favicon.ico", web::get().to(assets::favicon))
            .route("/login", web::get().to(pages::auth::login_page))
            .route("/login", web::post().to(pages::auth::login))
            .route("/logout", web::post().to(pages::account::logout))
            .route("/login/second-factor", web::get().to(pages::account::second_factor_page))
            .route("/login/second-factor", web::post().to(pages::account::second_factor))
            .route("/login/second-factor/key/begin", web::post().to(pages::security_keys::begin_sign_in))
            .route("/login/second-factor/key", web::post().to(pages::security_keys::sign_in))
            .route("/invitation/{token}", web::get().to(pages::links::invitation))
            .route("/invitation/{token}", web::post().to(pages::links::accept_invitation))
            .route("/password/forgot", web::get().to(pages::links::forgot))
            .route("/password/forgot", web::post().to(pages::links::request_reset))
            .route("/password/reset/{token}", web::get().to(pages::links::reset))
            .route("/password/reset/{token}", web::post().to(pages::links::complete_reset))
            .route("/inbox", web::get().to(pages::notices::list))
            .route("/inbox/read-all", web::post().to(pages::notices::read_all))
            .route("/inbox/{id}", web::get().to(pages::notices::open))
            .route("/account/notifications", web::get().to(pages::notices::prefs))
            .route("/account/notifications", web::post().to(pages::notices::save_prefs))
            .route("/settings/rates", web::get().to(pages::settings_rates::show))
            .route("/settings/rates", web::post().to(pages::settings_rates::record))
            .route("/settings/rates/reporting", web::post().to(pages::settings_rates::save_reporting))
            .route("/settings/rates/pin", web::post().to(pages::settings_rates::pin))
            .route("/settings/rates/import", web::post().to(pages::settings_rates::import))
            .route("/settings/rates/{asset}/unpin", web::post().to(pages::settings_rates::unpin))
            .route("/settings/accounting", web::get().to(pages::accounting::settings))
            .route("/settings/accounting", web::post().to(pages::accounting::save_settings))
            .route("/settings/notifications", web::get().to(pages::notices::channels))
            .route("/settings/notifications", web::post().to(pages::notices::save_channels))
            .route("/account/security", web::get().to(pages::account::security))
            .route("/account/security/password", web::post().to(pages::account::change_password))
            .route("/account/security/totp", web::post().to(pages::account::begin_totp))
            .route("/account/security/totp/confirm", web::post().to(pages::account::confirm_totp))
            .route("/account/security/totp/remove", web::post().to(pages::account::remove_totp))
            .route("/account/security/recovery-codes", web::post().to(pages::account::new_recovery_codes))
            .route("/account/security/keys/begin", web::post().to(pages::security_keys::begin_registration))
            .route("/account/security/keys", web::post().to(pages::security_keys::finish_registration))
            .route("/account/security/keys/{id}/remove", web::post().to(pages::security_keys::remove))
            .route("/step-up", web::get().to(pages::account::step_up_page))
            .route("/step-up", web::post().to(pages::account::step_up))
            .route("/step-up/key/begin", web::post().to(pages::security_keys::begin_step_up))
            .route("/step-up/key", web::post().to(pages::security_keys::step_up))
            .route("/", web::get().to(pages::dashboard::show))
            .route("/payouts", web::get().to(pages::payouts::list))
            .route("/payouts/export.csv", web::get().to(pages::payouts::export))
            .route("/payouts/accounting", web::get().to(pages::accounting::export))
            .route("/payouts/accounting/journal.csv", web::get().to(pages::accounting::download))
            .route("/payouts/new", web::get().to(pages::single::new))
            .route("/payouts/new/single", web::get().to(pages::single::single))
            .route("/payouts/new/single", web::post().to(pages::single::single_review))
            .route("/payouts/new/single/check", web::post().to(pages::single::check_field))
            .route("/payouts/new/single/confirm", web::post().to(pages::single::single_confirm))
            .route("/payouts/new/mass", web::get().to(pages::drafts::new))
            .route("/payouts/drafts", web::post().to(pages::drafts::start))
            .route("/payouts/drafts/{id}", web::get().to(pages::drafts::show))
            .route("/payouts/drafts/{id}/header", web::post().to(pages::drafts::set_header))
            .route("/payouts/drafts/{id}/rows", web::post().to(pages::drafts::add_row))
            .route("/payouts/drafts/{id}/rows/{row}", web::post().to(pages::drafts::update_row))
            .route("/payouts/drafts/{id}/rows/{row}/delete", web::post().to(pages::drafts::delete_row))
            .route("/payouts/drafts/{id}/upload", web::post().to(pages::drafts::upload))
            .route("/payouts/drafts/{id}/payees", web::get().to(pages::draft_payees::picker))
            .route("/payouts/drafts/{id}/payees", web::post().to(pages::draft_payees::add))
            .route("/payouts/drafts/{id}/discard", web::get().to(pages::drafts::discard_page))
            .route("/payouts/drafts/{id}/discard", web::post().to(pages::drafts::discard))
            .route("/payouts/drafts/{id}/review", web::get().to(pages::mass_review::review))
            .route("/payouts/drafts/{id}/confirm", web::post().to(pages::mass_review::confirm))
            .route("/payouts/{id}/results.csv", web::get().to(pages::runs::results_csv))
            .route("/payouts/{id}/retry-failed", web::post().to(pages::runs::retry_failed))
            .route("/payouts/{id}/repeat", web::post().to(pages::runs::repeat))
            .route("/payouts/{id}", web::get().to(pages::payouts::details))
            .route("/payouts/{id}/cancel", web::post().to(pages::payouts::cancel))
            .route("/payouts/{id}/approve", web::post().to(pages::approvals::approve))
            .route("/payouts/{id}/items/{item}/resolve", web::post().to(pages::payouts::resolve_item))
            .route("/payouts/{id}/items/{item}/cancel-transfer", web::post().to(pages::payouts::cancel_transfer))
            .route("/payouts/{id}/items/{item}/held/{decision}", web::post().to(pages::payouts::decide_held))
            .route("/payouts/{id}/reject", web::post().to(pages::approvals::reject))
            .route("/payees", web::get().to(pages::payees::list))
            .route("/payees", web::post().to(pages::payees::create))
            .route("/payees/import", web::post().to(pages::payees::import))
            .route("/payees/export.csv", web::get().to(pages::payees::export))
            .route("/payees/{id}", web::get().to(pages::payees::details))
            .route("/payees/{id}/statement.csv", web::get().to(pages::payees::statement_csv))
            .route("/payees/{id}", web::post().to(pages::payees::update))
            .route("/payees/{id}/addresses", web::post().to(pages::payees::enter_address))
            .route("/payees/{id}/invite", web::post().to(pages::payees::invite))
            // The payee's own pages: a session of their own, nothing of the staff side.
            .route("/payee", web::get().to(pages::portal::home))
            .route("/payee/sign-in", web::get().to(pages::portal::sign_in_page))
            .route("/payee/sign-in", web::post().to(pages::portal::sign_in))
            .route("/payee/link/{token}", web::get().to(pages::portal::link_page))
            .route("/payee/link/{token}", web::post().to(pages::portal::open_link))
            .route("/payee/sign-out", web::post().to(pages::portal::sign_out))
            .route("/payee/statement", web::get().to(pages::portal::statement))
            .route("/payee/statement.csv", web::get().to(pages::portal::statement_csv))
            .route("/payee/addresses/new", web::get().to(pages::portal::address_new))
            .route("/payee/addresses", web::post().to(pages::portal::address_start))
            .route("/payee/challenges/{id}", web::get().to(pages::portal::challenge))
            .route("/payee/challenges/{id}", web::post().to(pages::portal::prove))
            .route("/payees/{id}/archive", web::post().to(pages::payees::archive))
            .route("/payees/{id}/restore", web::post().to(pages::payees::restore))
            .route("/payee-addresses/{id}/approve", web::post().to(pages::payees::approve_address))
            .route("/payee-addresses/{id}/reject", web::post().to(pages::payees::reject_address))
            .route("/approvals", web::get().to(pages::approvals::queue))
            .route("/approvals/bulk", web::post().to(pages::approvals::bulk_approve))
            .route("/settings/approvals", web::get().to(pages::approvals::policy))
            .route("/settings/approvals", web::post().to(pages::approvals::save_policy))
            .route("/settings/approvals/limits", web::post().to(pages::approvals::save_limits))
            .route("/settings/payees", web::post().to(pages::payees::save_cooling_off))
            .route("/settings/payees/proof", web::post().to(pages::payees::save_proof_policy))
            .route("/settings/payees/receipts", web::post().to(pages::payees::save_receipts))
            .route("/settings/payees/claims", web::post().to(pages::payees::save_claim_days))
            .route("/settings/time-zone", web::post().to(pages::schedules::save_zone))
            .route("/schedules", web::get().to(pages::schedules::list))
            .route("/schedules", web::post().to(pages::schedules::create))
            .route("/schedules/new", web::get().to(pages::schedules::new))
            .route("/schedules/{id}/{action}", web::post().to(pages::schedules::set_active))
            .route("/settings", web::get().to(pages::settings::index))
            .route("/settings/users", web::get().to(pages::settings::users))
            .route("/settings/users", web::post().to(pages::settings::add_user))
            .route("/settings/users/invite", web::post().to(pages::settings::invite))
            .route("/settings/users/invitations/{id}/{action}", web::post().to(pages::settings::invitation_action))
            .route("/settings/users/{id}/role", web::post().to(pages::settings::change_role))
            .route("/settings/users/{id}/disable", web::post().to(pages::settings::disable_user))
            .route("/settings/users/{id}/enable", web::post().to(pages::settings::enable_user))
            .route("/settings/users/{id}/reset-factors", web::post().to(pages::settings_security::reset))
            .route("/settings/security", web::get().to(pages::settings_security::show))
            .route("/settings/security", web::post().to(pages::settings_security::save))
            .route("/settings/audit", web::get().to(pages::settings::audit))
            .route("/settings/webhooks", web::get().to(pages::settings::webhooks))
            .route("/settings/webhooks", web::post().to(pages::settings::add_webhook))
            .route("/settings/webhooks/{id}/rotate", web::post().to(pages::settings::rotate_webhook))
            .route("/settings/webhooks/deliveries/{id}/resend", web::post().to(pages::settings::resend_webhook))
            .route("/settings/webhooks/{id}/{action}", web::post().to(pages::settings::enable_webhook))
            .route("/settings/api-keys", web::get().to(pages::settings::api_keys))
            .route("/settings/api-keys", web::post().to(pages::settings::create_api_key))
            .route("/settings/api-keys/{id}/revoke", web::post().to(pages::settings::revoke_api_key))
            .route("/settings/compliance", web::get().to(pages::settings_compliance::show))
            .route("/settings/compliance/lists", web::post().to(pages::settings_compliance::upload))
            .route("/settings/compliance/max-age", web::post().to(pages::settings_compliance::save_max_age))
            .route("/settings/assets", web::get().to(pages::settings_org::assets))
            .route("/settings/assets", web::post().to(pages::settings_org::save_assets))
            .route("/settings/assets/token-accounts", web::post().to(pages::settings_org::save_token_accounts))
            .route("/settings/fees", web::get().to(pages::settings_org::fees))
            .route("/settings/fees/{asset}/{operation}", web::post().to(pages::settings_org::save_fee))
            .route("/settings/balances", web::get().to(pages::settings_org::balances))
            .route("/settings/balances", web::post().to(pages::settings_org::deposit))
            .route("/registry-template.csv", web::get().to(pages::settings_org::registry_template))
            .default_service(web::to(not_found)),
    );
}

async fn not_found() -> Result<HttpResponse, AppError> {
    Err(AppError::NotFound)
}

/// An HTML response of `status` from a template. Pages that answer htmx with a fragment vary on
/// `HX-Request`, and caches must know it.
pub fn html(status: StatusCode, template: &impl Template) -> Result<HttpResponse, AppError> {
    Ok(HttpResponse::build(status)
        .content_type("text/html; charset=utf-8")
        .insert_header(("Vary", "HX-Request"))
        .insert_header(("Cache-Control", "no-store"))
        .body(template.render()?))
}

pub fn page(template: &impl Template) -> Result<HttpResponse, AppError> {
    html(StatusCode::OK, template)
}

/// 303 to `location`; htmx follows it as a normal navigation.
pub fn see_other(location: &str) -> HttpResponse {
    HttpResponse::SeeOther().insert_header(("Location", location)).finish()
}

/// The longest one-time message, in characters; longer ones end in "…".
pub const MAX_FLASH_CHARS: usize = 400;

/// 303 to `location` with a one-time message for the page that follows.
pub fn see_other_with_flash(
    ctx: &context::RequestContext,
    location: &str,
    kind: context::FlashKind,
    message: &str,
) -> HttpResponse {
    let mut res = see_other(location);
    // A cookie rides on every later request: a long message (a file's 50,000 column names)
    // would make the browser's requests too large to be served at all.
    let message = crate::domain::asset::shorten(message, MAX_FLASH_CHARS, 0);
    let flash = context::Flash { kind, message };
    res.add_cookie(&ctx.flash_cookie(&flash)).ok();
    res
}

/// A urlencoded form's fields in order, for forms that repeat a name (checkboxes), which serde's
/// struct decoding cannot gather.
pub fn form_pairs(body: &[u8]) -> Result<Vec<(String, String)>, AppError> {
    serde_urlencoded::from_bytes(body)
        .map_err(|_| AppError::Validation(crate::domain::FieldErrors::form("The form could not be read.")))
}

/// Every value of the field `name`.
pub fn values_of(fields: &[(String, String)], name: &str) -> Vec<String> {
    fields.iter().filter(|(k, _)| k == name).map(|(_, v)| v.clone()).collect()
}
