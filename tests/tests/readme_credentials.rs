//! The README's table of the routes, what each does and who may call it, is the route table
//! itself, as the OpenAPI document is: a route added, or its protection or purpose changed,
//! without the table following fails here.

use linkgate_proxy::api::{Credential, route_table};

const README: &str = include_str!("../../README.md");
const BEGIN: &str = "<!-- credentials:begin -->\n";
const END: &str = "<!-- credentials:end -->";

fn expected() -> String {
    let mut out = String::from(
        "| method | path | what it does | who may call | the device is named by |\n|---|---|---|---|---|\n",
    );
    for route in route_table() {
        let who = match route.credential {
            Credential::None => "anyone",
            Credential::WhenLinked => {
                "anyone; once the device is linked, the device or the backend"
            }
            Credential::Backend => "the backend",
            Credential::DeviceOrBackend => "the device, or the backend",
            Credential::App => {
                "the requestor's app (its access token), or whom `deviceAuth.adobeV2` names"
            }
            Credential::AppForDevice => {
                "the requestor's app (its access token), or whom `deviceAuth.adobeV2` names: under `device`, once the device is linked, the device itself"
            }
        };
        let named_by = match (route.credential, route.device_param) {
            (Credential::DeviceOrBackend | Credential::AppForDevice, Some(param)) => {
                format!("`{param}`")
            }
            (Credential::DeviceOrBackend, None) => "`{device}`".to_owned(),
            _ => "—".to_owned(),
        };
        out.push_str(&format!(
            "| {} | `{}` | {} | {who} | {named_by} |\n",
            route.method, route.path, route.summary
        ));
    }
    out
}

#[test]
fn the_readme_credential_table_is_the_route_table() {
    let start = README
        .find(BEGIN)
        .expect("the README marks its credential table")
        + BEGIN.len();
    let end = README[start..].find(END).expect("the table's end marker") + start;
    let expected = expected();
    assert_eq!(
        &README[start..end],
        expected,
        "the README's credential table is stale; it should read:\n{expected}"
    );
}
