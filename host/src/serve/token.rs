//! Who may ask: the token clients send, and the addresses the endpoint may listen on.

use std::io::Read;
use std::net::SocketAddr;

use crate::{Error, ErrorKind};

/// The shared secret clients send in the `Authorization` header.
#[derive(Clone)]
pub struct Token(pub(super) String);

impl std::fmt::Debug for Token {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Token(** redacted **)")
    }
}

impl Token {
    /// 256 random bits from the kernel, as 64 hex digits.
    pub fn random() -> Result<Self, Error> {
        // /dev/urandom is the kernel CSPRNG; one read needs no crate.
        let mut bytes = [0u8; 32];
        std::fs::File::open("/dev/urandom")
            .and_then(|mut f| f.read_exact(&mut bytes))
            .map_err(|e| Error::internal(anyhow::anyhow!("reading /dev/urandom for a token: {e}")))?;
        Ok(Token(crate::text::hex(&bytes)))
    }

    /// A token kept in a file (its first line), which must be yours and private (like 0600). It
    /// must be at least 16 characters.
    pub fn from_file(path: &std::path::Path) -> Result<Self, Error> {
        let usage = |why: String| {
            Error::new(
                ErrorKind::Usage,
                format!("--token-file {}: {why}", path.display()),
            )
        };
        let cannot_read = |e: std::io::Error| usage(format!("cannot read it: {e}"));
        let mut file = std::fs::File::open(path).map_err(cannot_read)?;
        // Checked on the open file, so it is the one read.
        let exposure = crate::platform::exposure_of_file(&file).map_err(cannot_read)?;
        if exposure.foreign_owner {
            return Err(usage(
                "it belongs to another user; use a token file of your own, private to you".into(),
            ));
        }
        if !exposure.private() {
            return Err(usage(format!(
                "other users can read it; make it private: {}",
                crate::platform::private_hint(path)
            )));
        }
        let mut text = String::new();
        file.read_to_string(&mut text).map_err(cannot_read)?;
        let token = text.lines().next().unwrap_or("").trim().to_string();
        if token.len() < 16 || token.chars().any(|c| c.is_control()) {
            return Err(usage(
                "the first line must be a token of at least 16 printable characters".into(),
            ));
        }
        Ok(Token(token))
    }

    /// The token, to hand to the client that should use it.
    pub fn reveal(&self) -> &str {
        &self.0
    }

    /// Compare without stopping at the first difference, so timing says nothing about the token.
    pub(super) fn matches(&self, offered: &[u8]) -> bool {
        let ours = self.0.as_bytes();
        let mut difference = ours.len() ^ offered.len();
        for (i, byte) in ours.iter().enumerate() {
            difference |= usize::from(byte ^ offered.get(i).copied().unwrap_or(0));
        }
        difference == 0
    }
}

/// Refuse non-loopback addresses unless the user insists (`--insecure-listen`).
pub fn check_listen(addr: SocketAddr, insecure: bool) -> Result<(), Error> {
    if addr.ip().is_loopback() || insecure {
        return Ok(());
    }
    Err(Error::new(
        ErrorKind::Usage,
        format!(
            "refusing to serve credentials on {addr}, which is not a loopback address: anyone who can reach it and sniff or guess the token gets credentials; use 127.0.0.1, or add --insecure-listen if you really mean it"
        ),
    ))
}
