//! A readable page of the OpenAPI document, rendered on the server (no CDN, no script).

use actix_web::HttpResponse;
use askama::Template;
use utoipa::OpenApi;

use crate::error::AppError;
use crate::web::api::ApiDoc;
use crate::web::context::Ctx;
use crate::web::layout::Layout;
use crate::web::page;

pub struct Operation {
    pub method: String,
    pub path: String,
    pub summary: String,
    pub responses: Vec<(String, String)>,
}

#[derive(Template)]
#[template(path = "pages/api_docs.html")]
pub struct DocsPage {
    pub layout: Layout,
    pub title: String,
    pub description: String,
    pub operations: Vec<Operation>,
}

pub async fn show(Ctx(ctx): Ctx) -> Result<HttpResponse, AppError> {
    let doc = ApiDoc::openapi();
    let json = serde_json::to_value(&doc).map_err(|e| AppError::Internal(e.to_string()))?;
    let mut operations = Vec::new();
    if let Some(paths) = json["paths"].as_object() {
        for (path, item) in paths {
            for (method, op) in item.as_object().into_iter().flatten() {
                let responses = op["responses"]
                    .as_object()
                    .map(|r| {
                        r.iter()
                            .map(|(code, v)| (code.clone(), v["description"].as_str().unwrap_or("").to_owned()))
                            .collect()
                    })
                    .unwrap_or_default();
                let summary = op["description"].as_str().or(op["summary"].as_str()).unwrap_or("").to_owned();
                operations.push(Operation { method: method.to_uppercase(), path: path.clone(), summary, responses });
            }
        }
    }
    page(&DocsPage {
        layout: Layout::new(&ctx, ""),
        title: doc.info.title.clone(),
        description: doc.info.description.clone().unwrap_or_default(),
        operations,
    })
}
