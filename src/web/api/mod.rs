//! The JSON API under `/api/v1`: token-authenticated, school-scoped, documented as OpenAPI.

pub mod contacts;
pub mod imports;
pub mod incidents;
pub mod insight;
pub mod meetings;
pub mod paging;
pub mod programme;
pub mod provision;
pub mod pupils;
pub mod staff;
pub mod suggestions;
pub mod timeline;

use std::future::Future;
use std::pin::Pin;

use actix_web::{web, FromRequest, HttpRequest, HttpResponse};
use serde::de::DeserializeOwned;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use super::error::{body_error, ApiError, ErrorBody, ErrorDetail};
use crate::error::Error;

/// Registers the `/api/v1` routes (inside their scope).
pub fn routes(cfg: &mut web::ServiceConfig) {
    use web::{get, post};
    cfg.service(resource("/openapi.json", "GET").route(get().to(openapi_json)))
        .service(resource("/staff", "GET").route(get().to(staff::list)))
        .service(
            resource("/pupils", "GET, POST")
                .route(get().to(pupils::list))
                .route(post().to(pupils::create)),
        )
        .service(resource("/pupils/{id}", "GET").route(get().to(pupils::get)))
        .service(resource("/pupils/{id}/timeline", "GET").route(get().to(timeline::get)))
        .service(resource("/pupils/{id}/export", "GET").route(get().to(pupils::export)))
        .service(resource("/pupils/{id}/contacts", "GET").route(get().to(contacts::list)))
        .service(resource("/pupils/{id}/plan", "GET").route(get().to(programme::plan)))
        .service(resource("/pupils/{id}/programme", "GET").route(get().to(programme::programme)))
        .service(resource("/pupils/{id}/provision", "GET").route(get().to(provision::pupil)))
        .service(resource("/provision", "GET").route(get().to(provision::school)))
        .service(
            resource("/sessions/{id}/record", "POST").route(post().to(programme::record_session)),
        )
        .service(
            resource("/programme-blocks/{id}/review", "POST")
                .route(post().to(programme::review_block)),
        )
        .service(resource("/insight/patterns", "GET").route(get().to(insight::patterns)))
        .service(resource("/insight/ladder", "GET").route(get().to(insight::ladder)))
        .service(resource("/insight/impact", "GET").route(get().to(insight::impact)))
        .service(resource("/incidents", "POST").route(post().to(incidents::create)))
        .service(resource("/suggestions", "GET").route(get().to(suggestions::list)))
        .service(resource("/suggestions/{id}/accept", "POST").route(post().to(suggestions::accept)))
        .service(
            resource("/suggestions/{id}/decline", "POST").route(post().to(suggestions::decline)),
        )
        .service(
            resource("/imports/pupils", "POST")
                .app_data(web::PayloadConfig::new(crate::imports::MAX_IMPORT_BYTES))
                .route(post().to(imports::pupils)),
        )
        .service(
            resource("/imports/incidents", "POST")
                .app_data(web::PayloadConfig::new(crate::imports::MAX_IMPORT_BYTES))
                .route(post().to(imports::incidents)),
        )
        .service(
            resource("/imports/staff", "POST")
                .app_data(web::PayloadConfig::new(crate::imports::MAX_IMPORT_BYTES))
                .route(post().to(imports::staff)),
        )
        .service(
            resource("/imports/calendar", "POST")
                .app_data(web::PayloadConfig::new(crate::imports::MAX_IMPORT_BYTES))
                .route(post().to(imports::calendar)),
        )
        .service(
            resource("/imports/oneroster", "POST")
                .app_data(web::PayloadConfig::new(crate::imports::MAX_IMPORT_BYTES))
                .route(post().to(imports::oneroster)),
        )
        .service(resource("/meetings", "GET").route(get().to(meetings::list)))
        .service(resource("/meetings/{id}/schedule", "POST").route(post().to(meetings::schedule)))
        .service(resource("/meetings/{id}/cancel", "POST").route(post().to(meetings::cancel)))
        .service(resource("/meetings/{id}/missed", "POST").route(post().to(meetings::missed)))
        .service(resource("/meetings/{id}/outcome", "POST").route(post().to(meetings::outcome)))
        .default_service(web::to(not_found));
}

/// One path of the API: any method it does not answer gets 405, naming those it does.
fn resource(path: &str, allow: &'static str) -> actix_web::Resource {
    web::resource(path).default_service(web::to(move || method_not_allowed(allow)))
}

/// `405 Method Not Allowed` in the error shape, with the `Allow` header.
async fn method_not_allowed(allow: &'static str) -> HttpResponse {
    HttpResponse::MethodNotAllowed()
        .insert_header((actix_web::http::header::ALLOW, allow))
        .json(ErrorBody {
            error: ErrorDetail {
                code: "method_not_allowed".to_string(),
                message: format!("this address answers {allow} only"),
                field: None,
            },
        })
}

/// The OpenAPI document of every `/api/v1` route, generated from the handlers.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "Steadfast API",
        version = "1",
        description = "Pupil support along the Coaching Sequence: pupils, staff, incidents, suggestions, meetings, Coaching Plans, programmes and their sessions, provision and the insight reports of one school. Every route takes `Authorization: Bearer TOKEN` (see `steadfast token create`). Lists come a page at a time: `limit` (100 unless given, at most 500) and `cursor`; each answer's `next` is the path of the next page, or null on the last."
    ),
    paths(
        staff::list,
        pupils::list,
        pupils::create,
        pupils::get,
        pupils::export,
        contacts::list,
        timeline::get,
        programme::plan,
        programme::programme,
        programme::record_session,
        programme::review_block,
        provision::pupil,
        provision::school,
        insight::patterns,
        insight::ladder,
        insight::impact,
        incidents::create,
        suggestions::list,
        suggestions::accept,
        suggestions::decline,
        meetings::list,
        meetings::schedule,
        meetings::cancel,
        meetings::missed,
        meetings::outcome,
        imports::pupils,
        imports::incidents,
        imports::staff,
        imports::calendar,
        imports::oneroster
    ),
    components(schemas(ErrorBody, crate::web::Health)),
    modifiers(&BearerAuth),
    security(("bearer" = []))
)]
pub struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
        // Every route answers wrong tokens the same way: after five from one address, 429.
        let waiting = utoipa::openapi::ResponseBuilder::new()
            .description(
                "Too many wrong tokens from this address: wait the seconds in `Retry-After`",
            )
            .header(
                "Retry-After",
                utoipa::openapi::header::HeaderBuilder::new()
                    .schema(utoipa::openapi::schema::Object::with_type(
                        utoipa::openapi::schema::Type::Integer,
                    ))
                    .build(),
            )
            .content(
                "application/json",
                utoipa::openapi::ContentBuilder::new()
                    .schema(Some(utoipa::openapi::Ref::from_schema_name("ErrorBody")))
                    .build(),
            )
            .build();
        for item in openapi.paths.paths.values_mut() {
            let operations = [
                &mut item.get,
                &mut item.post,
                &mut item.put,
                &mut item.patch,
                &mut item.delete,
            ];
            for operation in operations.into_iter().flatten() {
                operation
                    .responses
                    .responses
                    .insert("429".to_string(), waiting.clone().into());
            }
        }
    }
}

/// `GET /api/v1/openapi.json`.
async fn openapi_json() -> HttpResponse {
    HttpResponse::Ok().json(ApiDoc::openapi())
}

/// Unknown `/api/v1` routes answer in the JSON error shape too.
async fn not_found() -> Result<HttpResponse, ApiError> {
    Err(ApiError(Error::NotFound("route")))
}

/// The field a serde message names, such as `upn` in "missing field `upn`".
fn field_named_in(message: &str) -> Option<String> {
    let start = message.find('`')? + 1;
    let length = message[start..].find('`')?;
    Some(message[start..start + length].to_string())
}

/// The raw bytes of a request body, at most `MAX_BODY_BYTES`: a larger one answers 413 and
/// one that cannot be read 400, both in the error shape.
pub struct ApiBody(pub web::Bytes);

impl FromRequest for ApiBody {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, ApiError>>>>;

    fn from_request(req: &HttpRequest, payload: &mut actix_web::dev::Payload) -> Self::Future {
        let body = web::Bytes::from_request(req, payload);
        Box::pin(async move {
            body.await
                .map(ApiBody)
                .map_err(|e| ApiError(body_error(&e, "the JSON body")))
        })
    }
}

/// A JSON request body. One that cannot be read answers 400 in the error shape, with
/// `field` naming the input at fault (`year`, `pupil_ids[2]`, an unknown field) whenever it
/// can be told; one that is too large answers 413.
pub struct ApiJson<T>(pub T);

impl<T: DeserializeOwned + 'static> FromRequest for ApiJson<T> {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, ApiError>>>>;

    fn from_request(req: &HttpRequest, payload: &mut actix_web::dev::Payload) -> Self::Future {
        let body = ApiBody::from_request(req, payload);
        Box::pin(async move {
            let bytes = body.await?.0;
            read_json(&bytes).map(ApiJson).map_err(ApiError)
        })
    }
}

/// Reads a JSON document into `T`, naming the field at fault when it fails.
pub fn read_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, Error> {
    let unreadable = |cause: serde_json::Error, field: Option<String>| Error::Invalid {
        code: "invalid",
        message: format!("the JSON body could not be read: {cause}"),
        field,
    };
    let mut reader = serde_json::Deserializer::from_slice(bytes);
    let value = serde_path_to_error::deserialize(&mut reader).map_err(|error| {
        let path = error.path().to_string();
        let cause = error.into_inner();
        let message = cause.to_string();
        // A missing or unknown field is named in the message, inside the object at `path`.
        let named = (message.starts_with("missing field") || message.starts_with("unknown field"))
            .then(|| field_named_in(&message))
            .flatten();
        let field = match (path.as_str(), named) {
            (".", named) => named,
            (_, Some(named)) if path != named && !path.ends_with(&format!(".{named}")) => {
                Some(format!("{path}.{named}"))
            }
            _ => Some(path),
        };
        unreadable(cause, field)
    })?;
    reader.end().map_err(|cause| unreadable(cause, None))?;
    Ok(value)
}

/// Query strings that cannot be read (an unknown parameter, say) answer 400 in the error
/// shape, naming the parameter at fault when it can be told.
pub fn query_config() -> web::QueryConfig {
    web::QueryConfig::default().error_handler(|error, _req: &HttpRequest| {
        let message = error.to_string();
        ApiError(Error::Invalid {
            code: "invalid",
            field: field_named_in(&message),
            message: format!("the query string could not be read: {message}"),
        })
        .into()
    })
}

/// Path ids that are not numbers answer 404 in the error shape.
pub fn path_config() -> web::PathConfig {
    web::PathConfig::default()
        .error_handler(|_error, _req: &HttpRequest| ApiError(Error::NotFound("record")).into())
}

/// Reads an optional whole-number query parameter, naming it when it is not a number.
pub fn optional_number<T: std::str::FromStr>(
    field: &str,
    raw: Option<&str>,
) -> Result<Option<T>, Error> {
    match raw.map(str::trim).filter(|v| !v.is_empty()) {
        None => Ok(None),
        Some(value) => value.parse().map(Some).map_err(|_| {
            Error::invalid(
                field,
                format!("{field} must be a whole number, got {value:?}"),
            )
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serde_messages_name_their_field() {
        assert_eq!(
            field_named_in("missing field `upn` at line 1 column 2").as_deref(),
            Some("upn")
        );
        assert_eq!(field_named_in("expected value"), None);
    }

    #[test]
    fn json_errors_name_the_field_at_fault() {
        #[derive(Debug, serde::Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Body {
            #[allow(dead_code)]
            year: Option<i64>,
            #[allow(dead_code)]
            ids: Vec<i64>,
        }
        let wrong_type = read_json::<Body>(br#"{"year":"eight","ids":[]}"#).unwrap_err();
        assert_eq!(wrong_type.field(), Some("year"));
        let in_a_list = read_json::<Body>(br#"{"ids":[1,"x"]}"#).unwrap_err();
        assert_eq!(in_a_list.field(), Some("ids[1]"));
        let missing = read_json::<Body>(br#"{"year":7}"#).unwrap_err();
        assert_eq!(missing.field(), Some("ids"));
        let unknown = read_json::<Body>(br#"{"ids":[],"colour":"red"}"#).unwrap_err();
        assert_eq!(unknown.field(), Some("colour"));
        #[derive(Debug, serde::Deserialize)]
        struct Outer {
            #[allow(dead_code)]
            inner: Vec<Body>,
        }
        let nested = read_json::<Outer>(br#"{"inner":[{"ids":[],"colour":1}]}"#).unwrap_err();
        assert_eq!(nested.field(), Some("inner[0].colour"));
        let nested = read_json::<Outer>(br#"{"inner":[{"year":1}]}"#).unwrap_err();
        assert_eq!(nested.field(), Some("inner[0].ids"));
        let trailing = read_json::<Body>(br#"{"ids":[]} x"#).unwrap_err();
        assert_eq!(trailing.code(), "invalid");
        assert!(read_json::<Body>(br#"{"ids":[3]}"#).is_ok());
    }

    #[test]
    fn optional_numbers_name_the_field_at_fault() {
        assert_eq!(optional_number::<i16>("year", Some("7")).unwrap(), Some(7));
        assert_eq!(optional_number::<i16>("year", Some(" ")).unwrap(), None);
        assert_eq!(
            optional_number::<i16>("year", Some("seven"))
                .unwrap_err()
                .field(),
            Some("year")
        );
    }

    #[test]
    fn the_openapi_document_lists_every_route() {
        let doc = serde_json::to_value(ApiDoc::openapi()).unwrap();
        for path in [
            "/api/v1/staff",
            "/api/v1/pupils",
            "/api/v1/pupils/{id}",
            "/api/v1/pupils/{id}/contacts",
            "/api/v1/imports/staff",
            "/api/v1/pupils/{id}/plan",
            "/api/v1/pupils/{id}/programme",
            "/api/v1/pupils/{id}/provision",
            "/api/v1/provision",
            "/api/v1/sessions/{id}/record",
            "/api/v1/programme-blocks/{id}/review",
            "/api/v1/insight/patterns",
            "/api/v1/insight/ladder",
            "/api/v1/insight/impact",
        ] {
            assert!(doc["paths"].get(path).is_some(), "{path} missing");
        }
    }
}
