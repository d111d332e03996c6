//! A CRI client for `verify`: asks a runtime's socket `RuntimeService/Version` and `Status`
//! over gRPC, as the kubelet does, so that "the runtime serves CRI" is proven by the protocol
//! and not by a socket file that exists.
//!
//! The messages are the four of Kubernetes' CRI API v1 that these calls need, declared here
//! with their field numbers (kubernetes/cri-api `pkg/apis/runtime/v1/api.proto`, package
//! `runtime.v1`; the same in the copy the k8s-cri crate 0.11.0 ships as `proto/v1.proto`),
//! so that building needs no protoc. Fields a runtime adds later are skipped by prost.

use std::os::fd::{AsRawFd, OwnedFd};
use std::time::Duration;

use http::uri::PathAndQuery;

/// `runtime.v1.VersionRequest`.
#[derive(Clone, PartialEq, prost::Message)]
struct VersionRequest {
    /// The kubelet's CRI API version.
    #[prost(string, tag = "1")]
    version: String,
}

/// `runtime.v1.VersionResponse`.
#[derive(Clone, PartialEq, prost::Message)]
struct VersionResponse {
    #[prost(string, tag = "1")]
    version: String,
    #[prost(string, tag = "2")]
    runtime_name: String,
    #[prost(string, tag = "3")]
    runtime_version: String,
    #[prost(string, tag = "4")]
    runtime_api_version: String,
}

/// `runtime.v1.StatusRequest`.
#[derive(Clone, PartialEq, prost::Message)]
struct StatusRequest {
    #[prost(bool, tag = "1")]
    verbose: bool,
}

/// `runtime.v1.StatusResponse`, the part read here.
#[derive(Clone, PartialEq, prost::Message)]
struct StatusResponse {
    #[prost(message, optional, tag = "1")]
    status: Option<RuntimeStatus>,
}

/// `runtime.v1.RuntimeStatus`.
#[derive(Clone, PartialEq, prost::Message)]
struct RuntimeStatus {
    #[prost(message, repeated, tag = "1")]
    conditions: Vec<RuntimeCondition>,
}

/// `runtime.v1.RuntimeCondition`.
#[derive(Clone, PartialEq, prost::Message)]
struct RuntimeCondition {
    #[prost(string, tag = "1")]
    r#type: String,
    #[prost(bool, tag = "2")]
    status: bool,
    #[prost(string, tag = "3")]
    reason: String,
    #[prost(string, tag = "4")]
    message: String,
}

/// What the runtime answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    /// `containerd`, `cri-o`, `docker` (cri-dockerd) ...
    pub runtime_name: String,
    /// The runtime's version.
    pub runtime_version: String,
    /// The CRI API version it speaks (`v1`).
    pub api_version: String,
    /// Each condition of its status: type (`RuntimeReady`, `NetworkReady`), whether it
    /// holds, and the runtime's reason and message when it does not.
    pub conditions: Vec<Condition>,
}

/// One condition of a runtime's status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Condition {
    /// `RuntimeReady`, `NetworkReady`, ...
    pub kind: String,
    /// Whether it holds.
    pub holds: bool,
    /// Why not, in the runtime's words.
    pub reason: String,
}

impl Answer {
    /// Whether the runtime says it is ready (the `RuntimeReady` condition).
    pub fn runtime_ready(&self) -> bool {
        self.conditions
            .iter()
            .any(|c| c.kind == "RuntimeReady" && c.holds)
    }
}

/// The CRI API version this client speaks.
const API_VERSION: &str = "v1";
/// How long the whole exchange may take: a runtime that does not answer in this time is
/// not serving the kubelet either.
const TIMEOUT: Duration = Duration::from_secs(10);

/// Asks the socket `socket` (an `O_PATH` handle from [`crate::target::Target::open_socket`])
/// for the runtime's version and status.
pub fn ask(socket: &OwnedFd) -> Result<Answer, String> {
    let path = format!("/proc/self/fd/{}", socket.as_raw_fd());
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .enable_time()
        .build()
        .map_err(|e| format!("cannot start the CRI client: {e}"))?;
    runtime.block_on(async move {
        tokio::time::timeout(TIMEOUT, exchange(path))
            .await
            .map_err(|_| format!("no answer within {} s", TIMEOUT.as_secs()))?
    })
}

async fn exchange(path: String) -> Result<Answer, String> {
    // The authority is not used on a unix socket; gRPC needs some URI.
    let channel = tonic::transport::Endpoint::from_static("http://localhost")
        .connect_with_connector(tower::service_fn(move |_: tonic::transport::Uri| {
            let path = path.clone();
            async move {
                let stream = tokio::net::UnixStream::connect(path).await?;
                Ok::<_, std::io::Error>(hyper_util::rt::TokioIo::new(stream))
            }
        }))
        .await
        .map_err(|e| format!("cannot connect: {}", source_chain(&e)))?;
    let mut grpc = tonic::client::Grpc::new(channel);
    let version: VersionResponse = call(
        &mut grpc,
        "/runtime.v1.RuntimeService/Version",
        VersionRequest {
            version: API_VERSION.to_owned(),
        },
    )
    .await?;
    let status: StatusResponse = call(
        &mut grpc,
        "/runtime.v1.RuntimeService/Status",
        StatusRequest { verbose: false },
    )
    .await?;
    Ok(Answer {
        runtime_name: version.runtime_name,
        runtime_version: version.runtime_version,
        api_version: version.runtime_api_version,
        conditions: status
            .status
            .map(|s| s.conditions)
            .unwrap_or_default()
            .into_iter()
            .map(|c| Condition {
                kind: c.r#type,
                holds: c.status,
                reason: [c.reason, c.message]
                    .into_iter()
                    .filter(|s| !s.is_empty())
                    .collect::<Vec<_>>()
                    .join(": "),
            })
            .collect(),
    })
}

async fn call<Req, Resp>(
    grpc: &mut tonic::client::Grpc<tonic::transport::Channel>,
    method: &'static str,
    request: Req,
) -> Result<Resp, String>
where
    Req: prost::Message + Send + Sync + 'static,
    Resp: prost::Message + Default + Send + Sync + 'static,
{
    grpc.ready()
        .await
        .map_err(|e| format!("{method}: {}", source_chain(&e)))?;
    let codec = tonic_prost::ProstCodec::<Req, Resp>::default();
    grpc.unary(
        tonic::Request::new(request),
        PathAndQuery::from_static(method),
        codec,
    )
    .await
    .map(tonic::Response::into_inner)
    .map_err(|status| match status.code() {
        tonic::Code::Unimplemented => format!(
            "{method}: the socket speaks gRPC but not CRI {API_VERSION} (is CRI disabled in the runtime's configuration?): {}",
            status.message()
        ),
        code => format!("{method}: {code:?}: {}", status.message()),
    })
}

/// An error with its causes: tonic's transport errors say little on the surface.
fn source_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
