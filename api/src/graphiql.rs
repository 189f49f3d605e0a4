//! GraphiQL from assets compiled into the binary (`api/assets/graphiql/`, pinned npm releases with
//! their licences), so the IDE works on a closed network with nothing but this server.

use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};

/// One bundled file: its name under `/graphiql/`, its media type and its bytes.
struct Asset {
    name: &'static str,
    media_type: &'static str,
    bytes: &'static [u8],
}

const ASSETS: &[Asset] = &[
    Asset {
        name: "graphiql.min.js",
        media_type: "text/javascript; charset=utf-8",
        bytes: include_bytes!("../assets/graphiql/graphiql.min.js"),
    },
    Asset {
        name: "graphiql.min.css",
        media_type: "text/css; charset=utf-8",
        bytes: include_bytes!("../assets/graphiql/graphiql.min.css"),
    },
    Asset {
        name: "react.production.min.js",
        media_type: "text/javascript; charset=utf-8",
        bytes: include_bytes!("../assets/graphiql/react.production.min.js"),
    },
    Asset {
        name: "react-dom.production.min.js",
        media_type: "text/javascript; charset=utf-8",
        bytes: include_bytes!("../assets/graphiql/react-dom.production.min.js"),
    },
    Asset {
        name: "start.js",
        media_type: "text/javascript; charset=utf-8",
        bytes: include_bytes!("../assets/graphiql/start.js"),
    },
    Asset {
        name: "LICENSE.graphiql",
        media_type: "text/plain; charset=utf-8",
        bytes: include_bytes!("../assets/graphiql/LICENSE.graphiql"),
    },
    Asset {
        name: "LICENSE.react",
        media_type: "text/plain; charset=utf-8",
        bytes: include_bytes!("../assets/graphiql/LICENSE.react"),
    },
    Asset {
        name: "LICENSE.react-dom",
        media_type: "text/plain; charset=utf-8",
        bytes: include_bytes!("../assets/graphiql/LICENSE.react-dom"),
    },
];

const PAGE: &str = include_str!("../assets/graphiql/index.html");

/// The page's content security policy: scripts, styles and connections only from this origin
/// (GraphiQL sets inline styles and its CSS carries its fonts as `data:` URLs).
const PAGE_POLICY: &str = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; \
     img-src 'self' data:; font-src 'self' data:; connect-src 'self' ws: wss:; frame-ancestors 'none'";

/// The GraphiQL page (`GET /graphql` with no query and no upgrade).
pub fn page() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .insert_header((header::CONTENT_SECURITY_POLICY, PAGE_POLICY))
        .insert_header((header::CACHE_CONTROL, "no-cache"))
        .body(PAGE)
}

/// `GET /graphiql/{file}`: a bundled asset, cached by the browser for a day (a new release of the
/// server may bring new assets under the same names) and revalidated by its version tag.
async fn asset(req: HttpRequest, file: web::Path<String>) -> HttpResponse {
    let Some(asset) = ASSETS.iter().find(|a| a.name == file.as_str()) else {
        return HttpResponse::NotFound().finish();
    };
    let tag = format!("\"{}-{}\"", env!("CARGO_PKG_VERSION"), asset.bytes.len());
    let fresh = req
        .headers()
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v == tag);
    if fresh {
        return HttpResponse::NotModified()
            .insert_header((header::ETAG, tag))
            .finish();
    }
    HttpResponse::Ok()
        .content_type(asset.media_type)
        .insert_header((header::ETAG, tag))
        .insert_header((header::CACHE_CONTROL, "public, max-age=86400"))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .body(asset.bytes)
}

/// Registers `/graphiql/{file}`.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/graphiql/{file}", web::get().to(asset));
}
