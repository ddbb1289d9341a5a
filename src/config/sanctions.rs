//! The sanctions lists the server fetches (`--sanctions-url NAME=URL`). Fetching and importing
//! are the compliance room's (`service::compliance::refresh`).

/// Where a named list is fetched from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Source {
    pub list: String,
    pub url: url::Url,
}

impl Source {
    /// `NAME=URL`, as `--sanctions-url` takes it.
    pub fn parse(text: &str) -> Result<Source, String> {
        let (name, url) = text.split_once('=').ok_or_else(|| {
            format!("--sanctions-url {text:?}: write it as NAME=URL, e.g. \"OFAC SDN=https://…/SDN.XML\"")
        })?;
        let url = url::Url::parse(url.trim()).map_err(|e| format!("--sanctions-url {text:?}: not a URL ({e})"))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(format!("--sanctions-url {text:?}: only http and https addresses are fetched"));
        }
        Ok(Source { list: name.trim().to_owned(), url })
    }

    /// The address as the list records and pages show it: no credentials, no query.
    pub fn shown(&self) -> String {
        let mut url = self.url.clone();
        let _ = url.set_username("");
        let _ = url.set_password(None);
        url.set_query(None);
        url.to_string()
    }
}
