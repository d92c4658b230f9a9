//! The requests this helper answers. Replace and extend these with the privileged work your
//! app needs: each command is a name, what it needs (see `access::Need`) and a function from
//! the request dictionary to a reply. The server authorizes before it runs anything.

use plist::{Dictionary, Value};
use smbless_wire::{error_reply, type_name, COMMAND_KEY};

use crate::access::Need;

/// What the command asks of the server beyond its reply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Effect {
    /// Nothing.
    None,
    /// Stop the helper after this reply (drain as on SIGTERM).
    Stop,
}

/// Facts a command may use.
pub struct Context<'a> {
    /// `CFBundleVersion` of the embedded Info.plist, or why it could not be read.
    pub version: &'a Result<String, String>,
}

/// One command: its name, what it needs, what it does.
pub struct Command {
    /// The request's `command`.
    pub name: &'static str,
    /// Checked before `run`.
    pub need: Need,
    /// The work: request dictionary in, reply out.
    pub run: fn(&Dictionary, &Context<'_>) -> (Value, Effect),
}

/// The Authorization Services right the example `stop` command declares. An app registers it
/// in the authorization database (`AuthorizationRightSet`) with the rule it wants, e.g.
/// `authenticate-admin`, as EvenBetterAuthorizationSample does.
pub const STOP_RIGHT: &str = "com.example.smbless-helper.stop";

/// The commands.
pub const COMMANDS: &[Command] = &[
    Command {
        name: "ping",
        need: Need::Client,
        run: |_, _| {
            (
                reply("reply", Value::String("pong".to_owned())),
                Effect::None,
            )
        },
    },
    Command {
        name: "version",
        need: Need::Client,
        run: |_, ctx| match ctx.version {
            Ok(v) => (reply("version", Value::String(v.clone())), Effect::None),
            Err(e) => (error_reply("internal", e), Effect::None),
        },
    },
    Command {
        name: "echo",
        need: Need::Client,
        run: |dict, _| {
            let mut echoed = dict.clone();
            echoed.remove(COMMAND_KEY);
            echoed.remove(smbless_wire::AUTHORIZATION_KEY);
            (reply("echo", Value::Dictionary(echoed)), Effect::None)
        },
    },
    // An example of a command gated by an Authorization Services right.
    Command {
        name: "stop",
        need: Need::Right(STOP_RIGHT),
        run: |_, _| (reply("stopping", Value::Boolean(true)), Effect::Stop),
    },
];

/// Find the command a decoded request names, or the error reply for a malformed request.
pub fn find(request: &Value) -> Result<(&'static Command, &Dictionary), Value> {
    let Some(dict) = request.as_dictionary() else {
        return Err(error_reply(
            "bad-request",
            &format!(
                "the request is {}, expected a dictionary",
                type_name(request)
            ),
        ));
    };
    let name = match dict.get(COMMAND_KEY) {
        Some(Value::String(name)) => name.as_str(),
        Some(other) => {
            return Err(error_reply(
                "bad-request",
                &format!("`{COMMAND_KEY}` is {}, expected a string", type_name(other)),
            ))
        }
        None => {
            return Err(error_reply(
                "bad-request",
                &format!("the request has no `{COMMAND_KEY}`"),
            ))
        }
    };
    match COMMANDS.iter().find(|c| c.name == name) {
        Some(command) => Ok((command, dict)),
        None => {
            // Bound what we repeat back: the name came from the peer.
            let shown: String = name.chars().take(64).collect();
            let known: Vec<&str> = COMMANDS.iter().map(|c| c.name).collect();
            Err(error_reply(
                "unknown-command",
                &format!("unknown command `{shown}`; known: {}", known.join(", ")),
            ))
        }
    }
}

/// The request's `authorization` data, if it sent any (an `AuthorizationExternalForm`).
pub fn authorization(dict: &Dictionary) -> Option<&[u8]> {
    dict.get(smbless_wire::AUTHORIZATION_KEY)
        .and_then(Value::as_data)
}

fn reply(key: &str, value: Value) -> Value {
    let mut dict = Dictionary::new();
    dict.insert(key.to_owned(), value);
    Value::Dictionary(dict)
}

#[cfg(test)]
mod tests {
    use super::*;
    use smbless_wire::{reply_error, request};

    fn run(req: &Value, version: &Result<String, String>) -> (Value, Effect) {
        match find(req) {
            Ok((command, dict)) => (command.run)(dict, &Context { version }),
            Err(reply) => (reply, Effect::None),
        }
    }

    const V: &Result<String, String> = &Ok(String::new());

    #[test]
    fn known_commands_answer() {
        let (pong, _) = run(&request("ping", []), V);
        assert_eq!(pong.as_dictionary().unwrap()["reply"], Value::from("pong"));
        let (v, _) = run(&request("version", []), &Ok("1.2.3".into()));
        assert_eq!(v.as_dictionary().unwrap()["version"], Value::from("1.2.3"));
        let (e, effect) = run(
            &request(
                "echo",
                [
                    ("k".into(), Value::Integer(7.into())),
                    ("authorization".into(), Value::Data(vec![0; 32])),
                ],
            ),
            V,
        );
        assert_eq!(effect, Effect::None);
        let echoed = e.as_dictionary().unwrap()["echo"].as_dictionary().unwrap();
        assert_eq!(echoed.len(), 1, "the authorization is never echoed");
        assert_eq!(echoed["k"], Value::Integer(7.into()));
        assert_eq!(run(&request("stop", []), V).1, Effect::Stop);
    }

    #[test]
    fn every_command_declares_its_need_and_one_of_each_kind_ships() {
        assert!(COMMANDS.iter().any(|c| c.need == Need::Client));
        assert!(COMMANDS
            .iter()
            .any(|c| c.name == "stop" && c.need == Need::Right(STOP_RIGHT)));
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
            let (reply, _) = run(&req, V);
            let (c, m) = reply_error(&reply).unwrap();
            assert_eq!(c, code);
            assert!(m.contains(needle), "{m}");
        }
        let (broken, _) = run(&request("version", []), &Err("no plist".into()));
        assert_eq!(reply_error(&broken), Some(("internal", "no plist")));
    }
}
