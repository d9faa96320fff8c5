//! The JSON API under `/api/v1`: token-authenticated, school-scoped, documented as OpenAPI.

pub mod pupils;
pub mod staff;

use actix_web::{web, HttpRequest, HttpResponse};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use super::error::{ApiError, ErrorBody};
use crate::error::Error;

/// Registers the `/api/v1` routes (inside their scope).
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/openapi.json", web::get().to(openapi_json))
        .route("/staff", web::get().to(staff::list))
        .route("/pupils", web::get().to(pupils::list))
        .route("/pupils", web::post().to(pupils::create))
        .route("/pupils/{id}", web::get().to(pupils::get))
        .default_service(web::to(not_found));
}

/// The OpenAPI document of every `/api/v1` route, generated from the handlers.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "Steadfast API",
        version = "1",
        description = "Pupil support along the Coaching Sequence: pupils, staff, incidents, suggestions and meetings of one school. Every route takes `Authorization: Bearer TOKEN` (see `steadfast token create`)."
    ),
    paths(staff::list, pupils::list, pupils::create, pupils::get),
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

/// JSON bodies that cannot be read answer 400 in the error shape, naming the field if known.
pub fn json_config() -> web::JsonConfig {
    web::JsonConfig::default()
        .limit(256 * 1024)
        .error_handler(|error, _req: &HttpRequest| {
            let message = error.to_string();
            let field = field_named_in(&message);
            ApiError(Error::Invalid {
                code: "invalid",
                message: format!("the JSON body could not be read: {message}"),
                field,
            })
            .into()
        })
}

/// Query strings that cannot be read answer 400 in the error shape.
pub fn query_config() -> web::QueryConfig {
    web::QueryConfig::default().error_handler(|error, _req: &HttpRequest| {
        ApiError(Error::bad_request(format!(
            "the query string could not be read: {error}"
        )))
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
        for path in ["/api/v1/staff", "/api/v1/pupils", "/api/v1/pupils/{id}"] {
            assert!(doc["paths"].get(path).is_some(), "{path} missing");
        }
    }
}
