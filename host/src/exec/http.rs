//! The one way a run fetches anything itself (signing keys, downloads): https, or plain http
//! only to a loopback mirror or when the user said `--allow-insecure-repo`, with a bound on
//! time and size.

use std::time::Duration;

/// Why a fetch failed.
#[derive(Debug)]
pub enum GetError {
    /// Plain http to another machine, not allowed.
    Insecure,
    /// The URL, the connection, the server's answer or the size.
    Failed(String),
}

/// Fetches `url` whole, refusing more than `limit` bytes.
pub fn get(url: &str, allow_insecure: bool, limit: u64) -> Result<Vec<u8>, GetError> {
    let parsed = url::Url::parse(url).map_err(|e| GetError::Failed(e.to_string()))?;
    match parsed.scheme() {
        "https" => {}
        "http" if crate::options::is_loopback(&parsed) || allow_insecure => {}
        _ => return Err(GetError::Insecure),
    }
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(Duration::from_secs(300)))
        .build()
        .into();
    let mut response = agent
        .get(url)
        .call()
        .map_err(|e| GetError::Failed(e.to_string()))?;
    response
        .body_mut()
        .with_config()
        .limit(limit)
        .read_to_vec()
        .map_err(|e| GetError::Failed(e.to_string()))
}
