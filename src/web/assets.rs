//! Static files, embedded in the binary.

use actix_web::{HttpRequest, HttpResponse, web};

use crate::error::AppError;

pub const HTMX_VERSION: &str = "2.0.11";

struct Asset {
    name: &'static str,
    content_type: &'static str,
    body: &'static [u8],
    cache: &'static str,
}

// htmx's file name carries its version, so it can be cached for good; app.css changes with the
// app and is revalidated by its ETag.
const ASSETS: &[Asset] = &[
    Asset {
        name: "htmx-2.0.11.min.js",
        content_type: "text/javascript; charset=utf-8",
        body: include_bytes!("../../static/htmx.min.js"),
        cache: "public, max-age=31536000, immutable",
    },
    Asset {
        name: "htmx.LICENSE",
        content_type: "text/plain; charset=utf-8",
        body: include_bytes!("../../static/htmx.LICENSE"),
        cache: "public, max-age=86400",
    },
    Asset {
        name: "app.css",
        content_type: "text/css; charset=utf-8",
        body: include_bytes!("../../static/app.css"),
        cache: "public, max-age=300, must-revalidate",
    },
    Asset {
        name: "app.js",
        content_type: "text/javascript; charset=utf-8",
        body: include_bytes!("../../static/app.js"),
        cache: "public, max-age=300, must-revalidate",
    },
    Asset {
        name: "favicon.svg",
        content_type: "image/svg+xml",
        body: include_bytes!("../../static/favicon.svg"),
        cache: "public, max-age=86400",
    },
    Asset {
        name: "webauthn.js",
        content_type: "text/javascript; charset=utf-8",
        body: include_bytes!("../../static/webauthn.js"),
        cache: "public, max-age=300, must-revalidate",
    },
];

fn etag(body: &[u8]) -> String {
    format!("\"{}\"", &crate::crypto::sha256_hex(body)[..16])
}

/// `/favicon.ico`: the icon every page names, where a browser looks for one by default.
pub async fn favicon() -> HttpResponse {
    HttpResponse::MovedPermanently().insert_header(("Location", "/static/favicon.svg")).finish()
}

pub async fn serve(req: HttpRequest, name: web::Path<String>) -> Result<HttpResponse, AppError> {
    let asset = ASSETS.iter().find(|a| a.name == name.as_str()).ok_or(AppError::NotFound)?;
    let tag = etag(asset.body);
    let matches = req
        .headers()
        .get("If-None-Match")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == tag));
    let mut res = if matches { HttpResponse::NotModified() } else { HttpResponse::Ok() };
    res.insert_header(("Cache-Control", asset.cache)).insert_header(("ETag", tag));
    if matches {
        return Ok(res.finish());
    }
    Ok(res.content_type(asset.content_type).body(asset.body))
}
