//! The site's static files: the wasm and its JS glue (`/pkg`), the stylesheet, the public files
//! and Monaco (`/monaco/vs`). Where they come from:
//!
//! - `--site-root` (`PYTASK_SITE_ROOT`) set: that directory, always.
//! - unset, in a program built with the `embed-site` feature (the packaged `pytask`,
//!   `scripts/package`): the files built into the program, so it serves its pages wherever it is
//!   installed and whatever directory it starts in.
//! - unset otherwise (development and tests): `target/site`, as `scripts/build` leaves it.
//!
//! A directory is served as `tower-http`'s `ServeDir` serves it (what Leptos' file handler did
//! before). The built-in files are served with their validators and cache rules: `scripts/package`
//! stores a gzip and a brotli copy beside each file worth compressing, and the smallest one the
//! browser accepts is sent (`Content-Encoding`, `Vary: Accept-Encoding`).

use std::path::{Path, PathBuf};

use axum::body::Body;
use axum::extract::Request;
use axum::http::request::Parts;
use axum::http::{Method, StatusCode};
use axum::response::{IntoResponse, Response};
use tower_http::services::ServeDir;

/// Where the site's files come from (see the module's documentation).
#[derive(Debug, Clone)]
pub enum Site {
    Dir(PathBuf),
    #[cfg(feature = "embed-site")]
    BuiltIn,
}

impl Site {
    /// `site_root` is `--site-root`, if given.
    pub fn new(site_root: Option<&Path>) -> Site {
        match site_root {
            Some(dir) => Site::Dir(dir.to_path_buf()),
            None => Site::unconfigured(),
        }
    }

    #[cfg(feature = "embed-site")]
    fn unconfigured() -> Site {
        Site::BuiltIn
    }

    /// Where `scripts/build` puts the site, relative to the directory the server starts in.
    #[cfg(not(feature = "embed-site"))]
    fn unconfigured() -> Site {
        Site::Dir(PathBuf::from("target/site"))
    }

    /// The directory Leptos is told the site is in. Leptos reads only an optional wasm-split
    /// manifest there (this app splits nothing); for the built-in site it gets a path that can
    /// never exist (nothing is below `/dev/null`), so no file of the working directory is read.
    pub fn leptos_root(&self) -> String {
        match self {
            Site::Dir(dir) => dir.to_string_lossy().into_owned(),
            #[cfg(feature = "embed-site")]
            Site::BuiltIn => "/dev/null/site".into(),
        }
    }

    /// Says at start where the pages' files come from; a directory without the built wasm is
    /// the usual reason pages render but never come alive.
    pub fn announce(&self) {
        match self {
            Site::Dir(dir) if dir.join("pkg").is_dir() => {
                tracing::info!(site = %dir.display(), "the site's files are served from this directory")
            }
            Site::Dir(dir) => tracing::warn!(
                site = %dir.display(),
                "the site directory holds no built site (pkg/): pages will render but not hydrate. Build it (scripts/build) or set PYTASK_SITE_ROOT / --site-root"
            ),
            #[cfg(feature = "embed-site")]
            Site::BuiltIn => tracing::info!(
                digest = built_in::DIGEST,
                "the site's files are built into this program (PYTASK_SITE_ROOT would override them)"
            ),
        }
    }

    /// The file the request (its head) asks for, or `None` when there is none (the caller
    /// renders the not-found page). Only `GET` and `HEAD` read files.
    pub async fn serve(&self, req: &Parts) -> Option<Response> {
        if req.method != Method::GET && req.method != Method::HEAD {
            return None;
        }
        match self {
            Site::Dir(dir) => serve_dir(dir, req).await,
            #[cfg(feature = "embed-site")]
            Site::BuiltIn => built_in::serve(req),
        }
    }
}

async fn serve_dir(dir: &Path, req: &Parts) -> Option<Response> {
    let mut copy = Request::builder().method(req.method.clone()).uri(req.uri.clone());
    if let Some(headers) = copy.headers_mut() {
        headers.clone_from(&req.headers);
    }
    let copy = copy.body(Body::empty()).ok()?;
    let service = ServeDir::new(dir).precompressed_gzip().precompressed_br();
    let response = match tower::ServiceExt::oneshot(service, copy).await {
        Ok(response) => response.into_response(),
        Err(never) => match never {},
    };
    (response.status() != StatusCode::NOT_FOUND).then_some(response)
}

/// The content encodings the built-in site may hold a copy in, best first, with the suffix
/// `scripts/package` gives that copy.
pub const ENCODINGS: [(&str, &str); 2] = [("br", ".br"), ("gzip", ".gz")];

/// Whether the client accepts `encoding` (`Accept-Encoding`, q-values honoured: `q=0` refuses).
pub fn accepts(accept_encoding: &str, encoding: &str) -> bool {
    accept_encoding.split(',').any(|part| {
        let mut params = part.split(';').map(str::trim);
        let name = params.next().unwrap_or_default();
        let refused = params.any(|param| param.strip_prefix("q=").is_some_and(|q| q.trim().parse::<f32>().is_ok_and(|q| q <= 0.0)));
        (name.eq_ignore_ascii_case(encoding) || name == "*") && !refused
    })
}

/// Monaco's chunks carry a hash of their content in their names (`kotlin-IUYPiTV8.js`,
/// `assets/editor.worker-_vAIFJDs.js`: eight base64url characters after a dash): another Monaco
/// names them anew, so a browser may keep them for a year. Every other file keeps its name from
/// one build to the next (`/pkg/pytask.wasm`, Monaco's `loader.js` and `editor.main.js`) and must
/// be checked again on each use, or a browser would pair last version's wasm with this version's
/// page. Eight characters that are all lower-case letters are taken for a word, not a hash.
pub fn is_content_hashed(path: &str) -> bool {
    if !path.starts_with("monaco/") {
        return false;
    }
    let file = path.rsplit('/').next().unwrap_or(path);
    let Some((stem, _extension)) = file.rsplit_once('.') else { return false };
    let bytes = stem.as_bytes();
    if bytes.len() < 10 || bytes[bytes.len() - 9] != b'-' {
        return false;
    }
    let hash = &bytes[bytes.len() - 8..];
    hash.iter().all(|b| b.is_ascii_alphanumeric() || *b == b'-' || *b == b'_') && !hash.iter().all(u8::is_ascii_lowercase)
}

#[cfg(feature = "embed-site")]
mod built_in {
    //! The site inside the program: `target/embed-site` as `scripts/package` filled it (the
    //! site of `scripts/build` with compressed copies beside its files).

    use axum::body::{Body, Bytes};
    use axum::http::header::{self, HeaderValue};
    use axum::http::request::Parts;
    use axum::http::{Method, StatusCode};
    use axum::response::Response;

    use super::{accepts, is_content_hashed, ENCODINGS};

    #[derive(rust_embed::RustEmbed)]
    #[folder = "../target/embed-site/"]
    struct Files;

    /// A digest of the folder's files and names, which `scripts/package` sets: rustc records the
    /// variable, so a site with a file more or less (which no `include_bytes!` would notice) is
    /// built in anew.
    pub const DIGEST: &str = env!("PYTASK_EMBED_SITE_DIGEST", "build the packaged program with scripts/package");

    const IMMUTABLE: &str = "public, max-age=31536000, immutable";
    const REVALIDATE: &str = "no-cache";

    /// The copy of a file to send: the smallest the client accepts, and whether the file has
    /// compressed copies at all (its answers then vary with `Accept-Encoding`).
    struct Chosen {
        file: rust_embed::EmbeddedFile,
        encoding: Option<&'static str>,
        varies: bool,
    }

    fn choose(name: &str, accept_encoding: &str) -> Option<Chosen> {
        let original = Files::get(name)?;
        let mut chosen = Chosen { file: original, encoding: None, varies: false };
        for &(encoding, suffix) in ENCODINGS.iter().rev() {
            if let Some(copy) = Files::get(&format!("{name}{suffix}")) {
                chosen.varies = true;
                // The best encoding is first in ENCODINGS: walked backwards, it is taken last.
                if accepts(accept_encoding, encoding) {
                    chosen.file = copy;
                    chosen.encoding = Some(encoding);
                }
            }
        }
        Some(chosen)
    }

    pub fn serve(req: &Parts) -> Option<Response> {
        let path = percent_encoding::percent_decode_str(req.uri.path()).decode_utf8().ok()?;
        let name = path.strip_prefix('/')?;
        let accept = req.headers.get(header::ACCEPT_ENCODING).and_then(|v| v.to_str().ok()).unwrap_or_default();
        let Chosen { file, encoding, varies } = choose(name, accept)?;
        let digest = file.metadata.sha256_hash();
        let etag = format!("\"{}\"", digest[..16].iter().map(|b| format!("{b:02x}")).collect::<String>());
        let not_modified = req
            .headers
            .get(header::IF_NONE_MATCH)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|tags| tags.split(',').any(|tag| tag.trim().trim_start_matches("W/") == etag || tag.trim() == "*"));

        let mut response = Response::builder()
            .header(header::ETAG, &etag)
            .header(header::CACHE_CONTROL, if is_content_hashed(name) { IMMUTABLE } else { REVALIDATE })
            .header(header::CONTENT_TYPE, mime_guess::from_path(name).first_or_octet_stream().as_ref());
        if varies {
            response = response.header(header::VARY, HeaderValue::from_static("accept-encoding"));
        }
        if not_modified {
            return response.status(StatusCode::NOT_MODIFIED).body(Body::empty()).ok();
        }
        if let Some(encoding) = encoding {
            response = response.header(header::CONTENT_ENCODING, encoding);
        }
        let length = file.data.len();
        let body = match (req.method == Method::HEAD, file.data) {
            (true, _) => Body::empty(),
            (false, std::borrow::Cow::Borrowed(bytes)) => Body::from(Bytes::from_static(bytes)),
            (false, std::borrow::Cow::Owned(bytes)) => Body::from(bytes),
        };
        response.header(header::CONTENT_LENGTH, length).body(body).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodings_are_accepted_as_browsers_and_proxies_say() {
        assert!(accepts("gzip, deflate, br, zstd", "br"));
        assert!(accepts("gzip, deflate, br, zstd", "gzip"));
        assert!(!accepts("gzip, deflate", "br"));
        assert!(!accepts("", "gzip"));
        assert!(!accepts("br;q=0, gzip;q=0.5", "br"));
        assert!(accepts("br;q=0, gzip;q=0.5", "gzip"));
        assert!(accepts("*", "br"));
        assert!(accepts("GZIP", "gzip"));
    }

    #[test]
    fn only_monaco_chunks_are_content_hashed() {
        for hashed in [
            "monaco/vs/kotlin-IUYPiTV8.js",
            "monaco/vs/main-BEx-Fmlo.js",
            "monaco/vs/assets/editor.worker-_vAIFJDs.js",
            "monaco/vs/cssMode-eIUIN_ru.js",
        ] {
            assert!(is_content_hashed(hashed), "{hashed}");
        }
        for kept in [
            "pkg/pytask.wasm",
            "pkg/pytask.js",
            "pkg/pytask.css",
            "favicon.svg",
            "monaco/vs/loader.js",
            "monaco/vs/editor/editor.main.js",
            "monaco/vs/editor/editor.main.css",
            "monaco/vs/nls/lang/pt-br.js",
            "monaco/vs/nls/lang/zh-cn.js",
            "monaco/vs/basic-languages-abcdefgh.js",
            "pkg/pytask-ABCDEFGH.js",
        ] {
            assert!(!is_content_hashed(kept), "{kept}");
        }
    }

    #[tokio::test]
    async fn a_directory_serves_its_files_and_nothing_else() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("pkg")).unwrap();
        std::fs::write(dir.path().join("pkg/pytask.js"), "export {}").unwrap();
        let site = Site::new(Some(dir.path()));
        let get = |path: &str| Request::get(path).body(Body::empty()).unwrap().into_parts().0;
        let found = site.serve(&get("/pkg/pytask.js")).await.expect("the file is served");
        assert_eq!(found.status(), StatusCode::OK);
        assert!(found.headers()["content-type"].to_str().unwrap().contains("javascript"));
        assert!(site.serve(&get("/pkg/missing.js")).await.is_none());
        assert!(site.serve(&get("/pkg/../../etc/passwd")).await.is_none());
        let post = Request::post("/pkg/pytask.js").body(Body::empty()).unwrap().into_parts().0;
        assert!(site.serve(&post).await.is_none(), "only GET and HEAD read files");
    }
}
