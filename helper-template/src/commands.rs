//! The requests this helper answers. Replace and extend these with the privileged work your
//! app needs; keep each command a function from the request dictionary to a reply.

use plist::{Dictionary, Value};
use smbless::client::{error_reply, COMMAND_KEY};
use smbless::plists::type_name;

/// The commands, for the unknown-command message.
pub const COMMANDS: &[&str] = &["ping", "version", "echo"];

/// Answer one decoded request. `version` is the embedded Info.plist's `CFBundleVersion`
/// (or why it could not be read).
pub fn dispatch(request: &Value, version: &Result<String, String>) -> Value {
    let Some(dict) = request.as_dictionary() else {
        return error_reply(
            "bad-request",
            &format!(
                "the request is {}, expected a dictionary",
                type_name(request)
            ),
        );
    };
    let command = match dict.get(COMMAND_KEY) {
        Some(Value::String(command)) => command.as_str(),
        Some(other) => {
            return error_reply(
                "bad-request",
                &format!("`{COMMAND_KEY}` is {}, expected a string", type_name(other)),
            )
        }
        None => {
            return error_reply(
                "bad-request",
                &format!("the request has no `{COMMAND_KEY}`"),
            )
        }
    };
    match command {
        "ping" => reply("reply", Value::String("pong".to_owned())),
        "version" => match version {
            Ok(v) => reply("version", Value::String(v.clone())),
            Err(e) => error_reply("internal", e),
        },
        "echo" => {
            let mut echoed: Dictionary = dict.clone();
            echoed.remove(COMMAND_KEY);
            reply("echo", Value::Dictionary(echoed))
        }
        other => {
            // Bound what we repeat back: the name came from the peer.
            let shown: String = other.chars().take(64).collect();
            error_reply(
                "unknown-command",
                &format!("unknown command `{shown}`; known: {}", COMMANDS.join(", ")),
            )
        }
    }
}

fn reply(key: &str, value: Value) -> Value {
    let mut dict = Dictionary::new();
    dict.insert(key.to_owned(), value);
    Value::Dictionary(dict)
}

#[cfg(test)]
mod tests {
    use super::*;
    use smbless::client::{reply_error, request};

    const V: &Result<String, String> = &Ok(String::new());

    #[test]
    fn known_commands_answer() {
        let pong = dispatch(&request("ping", []), V);
        assert_eq!(pong.as_dictionary().unwrap()["reply"], Value::from("pong"));
        let v = dispatch(&request("version", []), &Ok("1.2.3".into()));
        assert_eq!(v.as_dictionary().unwrap()["version"], Value::from("1.2.3"));
        let e = dispatch(
            &request("echo", [("k".into(), Value::Integer(7.into()))]),
            V,
        );
        let echoed = e.as_dictionary().unwrap()["echo"].as_dictionary().unwrap();
        assert_eq!(echoed.len(), 1);
        assert_eq!(echoed["k"], Value::Integer(7.into()));
    }

    #[test]
    fn malformed_requests_get_typed_errors() {
        let cases = [
            (Value::Array(vec![]), "bad-request", "an array"),
            (
                Value::Dictionary(Dictionary::new()),
                "bad-request",
                "no `command`",
            ),
            (
                Value::Dictionary(Dictionary::from_iter([("command", Value::Boolean(true))])),
                "bad-request",
                "a boolean",
            ),
            (request("reboot", []), "unknown-command", "`reboot`"),
        ];
        for (req, code, needle) in cases {
            let reply = dispatch(&req, V);
            let (c, m) = reply_error(&reply).unwrap();
            assert_eq!(c, code);
            assert!(m.contains(needle), "{m}");
        }
        let broken = dispatch(&request("version", []), &Err("no plist".into()));
        assert_eq!(reply_error(&broken), Some(("internal", "no plist")));
    }
}
