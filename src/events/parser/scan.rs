//! A hand-written reader for event JSON in the shape writers produce: one object of the known
//! fields, strings without escapes, counts as plain non-negative integers. It fills the same
//! wire struct serde would and the same `validate` checks it, so a line reads the same either
//! way; anything else (an escape, a float, a `null`, an unknown or repeated field, a syntax
//! error) makes it give up and the caller uses serde, which decides and reports as before.
//! It exists for the hub's quiet mode, where serde's generic field matching was the largest
//! cost left per event.

use std::borrow::Cow;

use serde_json::Value;

use super::{Str, WireClient, WireCounts, WireIn};

struct Cursor<'a> {
    text: &'a str,
    at: usize,
}

impl<'a> Cursor<'a> {
    fn bytes(&self) -> &'a [u8] {
        self.text.as_bytes()
    }

    fn skip_ws(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.bytes().get(self.at) {
            self.at += 1;
        }
    }

    fn peek(&mut self) -> Option<u8> {
        self.skip_ws();
        self.bytes().get(self.at).copied()
    }

    fn eat(&mut self, c: u8) -> Option<()> {
        (self.peek()? == c).then(|| self.at += 1)
    }

    /// A string with no escape and no control character, borrowed from the text.
    fn string(&mut self) -> Option<&'a str> {
        self.eat(b'"')?;
        let start = self.at;
        let b = self.bytes();
        let mut i = start;
        loop {
            match *b.get(i)? {
                b'"' => break,
                b'\\' | 0..=0x1f => return None,
                _ => i += 1,
            }
        }
        self.at = i + 1;
        // `"` is ASCII, so both ends are character boundaries.
        self.text.get(start..i)
    }

    fn str_value(&mut self) -> Option<Str<'a>> {
        self.string().map(|s| Str(Cow::Borrowed(s)))
    }

    /// A JSON integer `0` or `[1-9][0-9]*` that fits a u64 and is not followed by a fraction or
    /// an exponent.
    fn count(&mut self) -> Option<Value> {
        self.skip_ws();
        let b = self.bytes();
        let start = self.at;
        let mut v: u64 = 0;
        while let Some(d) = b.get(self.at).filter(|c| c.is_ascii_digit()) {
            v = v.checked_mul(10)?.checked_add(u64::from(d - b'0'))?;
            self.at += 1;
        }
        let len = self.at - start;
        if len == 0 || (len > 1 && b[start] == b'0') {
            return None;
        }
        match b.get(self.at) {
            Some(b'.' | b'e' | b'E') => None,
            _ => Some(Value::from(v)),
        }
    }

    /// `{ "key": value, ... }`, each value read by `field` (which gives up on a key it does not
    /// know).
    fn object(&mut self, mut field: impl FnMut(&mut Self, &'a str) -> Option<()>) -> Option<()> {
        self.eat(b'{')?;
        if self.peek()? == b'}' {
            self.at += 1;
            return Some(());
        }
        loop {
            let key = self.string()?;
            self.eat(b':')?;
            field(self, key)?;
            match self.peek()? {
                b',' => self.at += 1,
                b'}' => {
                    self.at += 1;
                    return Some(());
                }
                _ => return None,
            }
        }
    }
}

/// Sets a field once: serde refuses a repeated field, so a repeat goes to serde.
fn once<T>(slot: &mut Option<T>, value: Option<T>) -> Option<()> {
    if slot.is_some() {
        return None;
    }
    *slot = Some(value?);
    Some(())
}

fn client<'a>(c: &mut Cursor<'a>) -> Option<WireClient<'a>> {
    let mut w = WireClient {
        id: None,
        session_id: None,
        remote_address: None,
        user_agent: None,
        connected_at: None,
        era: None,
        client_name: None,
        client_version: None,
        subject: None,
        client_id: None,
    };
    c.object(|c, key| {
        let slot = match key {
            "id" => &mut w.id,
            "sessionId" => &mut w.session_id,
            "remoteAddress" => &mut w.remote_address,
            "userAgent" => &mut w.user_agent,
            "connectedAt" => &mut w.connected_at,
            "era" => &mut w.era,
            "clientName" => &mut w.client_name,
            "clientVersion" => &mut w.client_version,
            "subject" => &mut w.subject,
            "clientId" => &mut w.client_id,
            _ => return None,
        };
        once(slot, c.str_value())
    })?;
    Some(w)
}

fn counts(c: &mut Cursor<'_>) -> Option<WireCounts> {
    let mut w = WireCounts {
        total_connections: None,
        active_connections: None,
        max_connections: None,
    };
    c.object(|c, key| {
        let slot = match key {
            "totalConnections" => &mut w.total_connections,
            "activeConnections" => &mut w.active_connections,
            "maxConnections" => &mut w.max_connections,
            _ => return None,
        };
        once(slot, c.count())
    })?;
    Some(w)
}

/// The wire struct of `json`, or `None` when serde must read it.
pub(super) fn scan(json: &str) -> Option<WireIn<'_>> {
    let mut c = Cursor { text: json, at: 0 };
    let mut w = WireIn {
        ty: None,
        event_type: None,
        server_id: None,
        client_info: None,
        connection_stats: None,
        duration_ms: None,
        reason: None,
        timestamp: None,
    };
    c.object(|c, key| match key {
        "type" => once(&mut w.ty, c.str_value()),
        "eventType" => once(&mut w.event_type, c.str_value()),
        "serverId" => once(&mut w.server_id, c.str_value()),
        "reason" => once(&mut w.reason, c.str_value()),
        "timestamp" => once(&mut w.timestamp, c.str_value()),
        "durationMs" => once(&mut w.duration_ms, c.count()),
        "clientInfo" => once(&mut w.client_info, client(c)),
        "connectionStats" => once(&mut w.connection_stats, counts(c)),
        _ => None,
    })?;
    c.skip_ws();
    (c.at == json.len()).then_some(w)
}
