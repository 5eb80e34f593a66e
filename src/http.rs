//! One HTTP client for every AWS client of a process, TLS made lazily.
//!
//! The SDK's default client builds a TLS connector — a root store parsed
//! from the system's certificates — for every distinct pair of timeouts it
//! is asked for (EC2, Auto Scaling, IMDS, the credentials chain: seven per
//! etcd-member-prepare run), whether or not anything speaks https. Here a
//! connector per pair of timeouts is shared by every client of the
//! process, and its TLS half is made on its first https request: IMDS
//! (always http) and the local stand-ins never parse a certificate; EC2
//! over https parses them once per run.

use aws_smithy_async::rt::sleep::SharedAsyncSleep;
use aws_smithy_http_client::proxy::ProxyConfig;
use aws_smithy_http_client::tls::{rustls_provider::CryptoMode, Provider};
use aws_smithy_http_client::{Connector, ConnectorBuilder};
use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnector, HttpConnectorFuture, HttpConnectorSettings, SharedHttpClient,
    SharedHttpConnector,
};
use aws_smithy_runtime_api::client::orchestrator::HttpRequest;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

/// The process's HTTP client.
pub fn client() -> SharedHttpClient {
    static CLIENT: OnceLock<SharedHttpClient> = OnceLock::new();
    CLIENT
        .get_or_init(|| SharedHttpClient::new(LazyTls::default()))
        .clone()
}

type Timeouts = (Option<Duration>, Option<Duration>);

/// Connectors by their timeouts, each with a lazy TLS half.
#[derive(Debug, Default)]
struct LazyTls {
    connectors: Mutex<HashMap<Timeouts, SharedHttpConnector>>,
}

impl HttpClient for LazyTls {
    fn http_connector(
        &self,
        settings: &HttpConnectorSettings,
        components: &RuntimeComponents,
    ) -> SharedHttpConnector {
        let key = (settings.connect_timeout(), settings.read_timeout());
        let mut connectors = self.connectors.lock().unwrap_or_else(|e| e.into_inner());
        connectors
            .entry(key)
            .or_insert_with(|| {
                let sleep = components.sleep_impl();
                SharedHttpConnector::new(ByScheme {
                    plain: builder(settings, sleep.clone()).build_http(),
                    tls: OnceLock::new(),
                    settings: settings.clone(),
                    sleep,
                })
            })
            .clone()
    }
}

/// A connector builder as the SDK's default client makes it: the
/// timeouts, the runtime's sleep, and the standard proxy variables.
fn builder(settings: &HttpConnectorSettings, sleep: Option<SharedAsyncSleep>) -> ConnectorBuilder {
    let mut b = ConnectorBuilder::default();
    b.set_connector_settings(Some(settings.clone()));
    b.set_sleep_impl(sleep);
    b.set_proxy_config(Some(ProxyConfig::from_env()));
    b
}

/// http requests go to the plain connector; https ones to the TLS
/// connector, made on the first.
#[derive(Debug)]
struct ByScheme {
    plain: Connector,
    tls: OnceLock<Connector>,
    settings: HttpConnectorSettings,
    sleep: Option<SharedAsyncSleep>,
}

impl HttpConnector for ByScheme {
    fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
        // Every attempt is counted here, retries included: what EC2's
        // per-account throttling sees.
        crate::metrics::count_request(request.headers().get("authorization"));
        if request.uri().starts_with("https:") {
            let tls = self.tls.get_or_init(|| {
                builder(&self.settings, self.sleep.clone())
                    .tls_provider(Provider::Rustls(CryptoMode::AwsLc))
                    .build()
            });
            tls.call(request)
        } else {
            self.plain.call(request)
        }
    }
}
