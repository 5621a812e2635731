//! Transport security and overload: TLS and mutual TLS with certificates
//! made here, rate limits with a retry hint, and load shedding under a
//! flood while health checks keep answering.

mod common;

use std::time::Duration;

use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tonic::Code;
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Identity};
use tonic_types::StatusExt;

use common::*;
use punchguard::app::Actor;
use punchguard::app::limits::LimitSettings;
use punchguard::app::tokens::{self, NewToken};
use punchguard::auth::Role;
use punchguard::engine::{EmployeeId, OrgId};
use punchguard::proto::v1 as pb;
use punchguard::server::{self, Options, TlsFiles};

struct Pki {
    ca_pem: String,
    server: (String, String),
    client: (String, String),
}

fn pki() -> Pki {
    let ca_key = KeyPair::generate().unwrap();
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca = ca_params.self_signed(&ca_key).unwrap();
    let issuer = Issuer::new(ca_params, ca_key);
    let leaf = |names: Vec<String>| {
        let key = KeyPair::generate().unwrap();
        let cert = CertificateParams::new(names)
            .unwrap()
            .signed_by(&key, &issuer)
            .unwrap();
        (cert.pem(), key.serialize_pem())
    };
    Pki {
        ca_pem: ca.pem(),
        server: leaf(vec!["localhost".into()]),
        client: leaf(vec!["hr-system.example".into()]),
    }
}

struct Running {
    addr: std::net::SocketAddr,
    app: punchguard::app::App,
    stop: CancellationToken,
    task: tokio::task::JoinHandle<anyhow::Result<()>>,
    _dir: tempfile::TempDir,
}

async fn start(options: Options) -> Running {
    let dir = tempfile::tempdir().unwrap();
    let app = server::open_sqlite(&dir.path().join("hardening.db"))
        .await
        .unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let stop = CancellationToken::new();
    let task = tokio::spawn(server::run(
        app.clone(),
        listener,
        options,
        stop.clone().cancelled_owned(),
    ));
    Running {
        addr,
        app,
        stop,
        task,
        _dir: dir,
    }
}

impl Running {
    async fn token(&self, role: Role, employee: Option<&str>) -> String {
        let new = NewToken {
            role,
            employee: employee.map(|e| EmployeeId::new(e).unwrap()),
            expires_in_days: None,
        };
        let operator = Actor::cli(OrgId::new("acme").unwrap(), tokens::ROLE);
        tokens::create(&self.app, &operator, new)
            .await
            .unwrap()
            .token
    }

    async fn stop(self) {
        self.stop.cancel();
        self.task.await.unwrap().unwrap();
    }
}

async fn tls_channel(addr: std::net::SocketAddr, pki: &Pki, with_client_cert: bool) -> Channel {
    let mut tls = ClientTlsConfig::new()
        .ca_certificate(Certificate::from_pem(&pki.ca_pem))
        .domain_name("localhost");
    if with_client_cert {
        tls = tls.identity(Identity::from_pem(&pki.client.0, &pki.client.1));
    }
    Channel::from_shared(format!("https://{addr}"))
        .unwrap()
        .tls_config(tls)
        .unwrap()
        .connect()
        .await
        .unwrap()
}

fn list_request() -> pb::ListSitesRequest {
    pb::ListSitesRequest::default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_and_mutual_tls_guard_the_roles_that_need_them() {
    let pki = pki();
    let running = start(Options {
        tls: Some(TlsFiles {
            certificate: pki.server.0.clone().into_bytes(),
            key: pki.server.1.clone().into_bytes(),
            client_ca: Some(pki.ca_pem.clone().into_bytes()),
        }),
        ..Options::local(Duration::from_secs(1))
    })
    .await;
    let admin = running.token(Role::Admin, None).await;
    let device = running.token(Role::Device, Some("aino")).await;

    // A plaintext client cannot talk to the TLS port.
    let plain = Channel::from_shared(format!("http://{}", running.addr))
        .unwrap()
        .connect()
        .await;
    if let Ok(plain) = plain {
        // Whatever the transport makes of it, it is not an answer.
        let refused = pb::admin_service_client::AdminServiceClient::new(plain)
            .list_sites(authed(list_request(), &admin))
            .await;
        assert!(refused.is_err());
    }

    // A phone without a client certificate punches over TLS.
    let phone = tls_channel(running.addr, &pki, false).await;
    let verdict = pb::punch_service_client::PunchServiceClient::new(phone.clone())
        .get_fence_bundle(authed(pb::GetFenceBundleRequest::default(), &device))
        .await;
    assert!(verdict.is_ok(), "{verdict:?}");
    // The admin token alone is not enough without a client certificate…
    let status = pb::admin_service_client::AdminServiceClient::new(phone)
        .list_sites(authed(list_request(), &admin))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::Unauthenticated);
    // …with one signed by the configured CA, it is.
    let tool = tls_channel(running.addr, &pki, true).await;
    pb::admin_service_client::AdminServiceClient::new(tool)
        .list_sites(authed(list_request(), &admin))
        .await
        .unwrap();
    running.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_device_over_its_rate_is_told_when_to_retry() {
    let running = start(Options {
        limits: LimitSettings {
            device_per_minute: 5,
            ..LimitSettings::default()
        },
        ..Options::local(Duration::from_secs(1))
    })
    .await;
    let device = running.token(Role::Device, Some("aino")).await;
    let other = running.token(Role::Device, Some("onni")).await;
    let channel = Channel::from_shared(format!("http://{}", running.addr))
        .unwrap()
        .connect()
        .await
        .unwrap();
    let mut client = pb::punch_service_client::PunchServiceClient::new(channel);
    for i in 0..5 {
        let request = punch_at(&format!("p{i}"), inside_building(1), 8.0);
        client.submit_punch(authed(request, &device)).await.unwrap();
    }
    let status = client
        .submit_punch(authed(punch_at("p5", inside_building(1), 8.0), &device))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::ResourceExhausted);
    let retry = status.get_details_retry_info().expect("a retry hint");
    let wait = retry.retry_delay.unwrap();
    assert!(
        wait > Duration::ZERO && wait <= Duration::from_secs(12),
        "{wait:?}"
    );
    // Another device of the organisation is not held back.
    client
        .submit_punch(authed(punch_at("q0", inside_building(1), 8.0), &other))
        .await
        .unwrap();
    running.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_is_shed_cleanly_while_health_checks_answer() {
    let running = start(Options {
        limits: LimitSettings {
            max_in_flight: 4,
            device_per_minute: 10_000,
            org_per_second: 100_000,
        },
        ..Options::local(Duration::from_secs(1))
    })
    .await;
    let device = running.token(Role::Device, Some("aino")).await;
    let channel = Channel::from_shared(format!("http://{}", running.addr))
        .unwrap()
        .concurrency_limit(1_000)
        .connect()
        .await
        .unwrap();
    let client = pb::punch_service_client::PunchServiceClient::new(channel.clone());
    let flood: Vec<_> = (0..400)
        .map(|i| {
            let mut client = client.clone();
            let request = authed(
                punch_at(&format!("f{i}"), inside_building(i % 20), 8.0),
                &device,
            );
            tokio::spawn(async move { client.submit_punch(request).await })
        })
        .collect();
    let mut health = tonic_health::pb::health_client::HealthClient::new(channel);
    let serving = health
        .check(tonic_health::pb::HealthCheckRequest {
            service: "punchguard.v1.PunchService".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(serving.status, 1, "SERVING during the flood");
    let (mut ok, mut shed) = (0, 0);
    for answer in flood {
        match answer.await.unwrap() {
            Ok(_) => ok += 1,
            Err(status) if status.code() == Code::ResourceExhausted => shed += 1,
            Err(status) => panic!("a flood must be shed, not fail: {status:?}"),
        }
    }
    assert!(ok > 0, "some punches are served");
    assert!(shed > 0, "with 4 in flight, 400 at once are partly shed");
    running.stop().await;
}

/// One HTTP/1.1 exchange with the console over TLS, trusting the test CA,
/// with or without the client certificate; the raw answer.
async fn console_https(
    addr: std::net::SocketAddr,
    pki: &Pki,
    with_client_cert: bool,
    request: &str,
) -> std::io::Result<String> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(CertificateDer::from_pem_slice(pki.ca_pem.as_bytes()).unwrap())
        .unwrap();
    let builder = rustls::ClientConfig::builder_with_provider(std::sync::Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots);
    let config = if with_client_cert {
        let chain = vec![CertificateDer::from_pem_slice(pki.client.0.as_bytes()).unwrap()];
        let key = PrivateKeyDer::from_pem_slice(pki.client.1.as_bytes()).unwrap();
        builder.with_client_auth_cert(chain, key).unwrap()
    } else {
        builder.with_no_client_auth()
    };
    let tcp = tokio::net::TcpStream::connect(addr).await?;
    let mut tls = tokio_rustls::TlsConnector::from(std::sync::Arc::new(config))
        .connect(ServerName::try_from("localhost").unwrap(), tcp)
        .await?;
    tls.write_all(request.as_bytes()).await?;
    let mut answer = Vec::new();
    tls.read_to_end(&mut answer).await?;
    Ok(String::from_utf8_lossy(&answer).into_owned())
}

/// A sign-in form post over TLS, as a browser sends it.
fn sign_in_request(addr: std::net::SocketAddr, token: &str) -> String {
    let body = format!("token={token}");
    format!(
        "POST /sign-in HTTP/1.1\r\nHost: localhost:{}\r\nOrigin: https://localhost:{}\r\n\
         Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\
         Connection: close\r\n\r\n{body}",
        addr.port(),
        addr.port(),
        body.len()
    )
}

#[tokio::test]
async fn the_console_over_tls_and_mutual_tls() {
    let pki = pki();
    let running = start(Options::local(Duration::from_secs(60))).await;
    let hr = running.token(Role::Hr, None).await;
    let serve = async |client_ca: Option<Vec<u8>>, app: punchguard::app::App| {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let files = TlsFiles {
            certificate: pki.server.0.clone().into_bytes(),
            key: pki.server.1.clone().into_bytes(),
            client_ca,
        };
        tokio::spawn(punchguard::console::serve(
            listener,
            app,
            Some(files),
            std::future::pending(),
        ));
        addr
    };

    // TLS: the session cookie is Secure and __Host- prefixed, and HSTS is on.
    let addr = serve(None, running.app.clone()).await;
    let answer = console_https(addr, &pki, false, &sign_in_request(addr, &hr))
        .await
        .unwrap();
    assert!(answer.starts_with("HTTP/1.1 303"), "{answer}");
    let lower = answer.to_lowercase();
    assert!(
        lower.contains("strict-transport-security: max-age="),
        "{answer}"
    );
    let cookie = lower
        .lines()
        .find(|l| l.starts_with("set-cookie:"))
        .expect("a session cookie");
    assert!(
        cookie.contains("__host-pg_session=")
            && cookie.contains("secure")
            && cookie.contains("httponly"),
        "{cookie}"
    );

    // Mutual TLS, as gRPC asks for it of admin, hr and privacy tokens: no
    // client certificate, no console; with one, the HR token signs in.
    let mut mutual = running.app.clone();
    mutual.require_client_certificates = true;
    let addr = serve(Some(pki.ca_pem.clone().into_bytes()), mutual).await;
    let refused = console_https(addr, &pki, false, &sign_in_request(addr, &hr)).await;
    assert!(
        refused
            .as_ref()
            .map_or(true, |a| !a.starts_with("HTTP/1.1")),
        "no client certificate, yet an answer: {refused:?}"
    );
    let answer = console_https(addr, &pki, true, &sign_in_request(addr, &hr))
        .await
        .unwrap();
    assert!(answer.starts_with("HTTP/1.1 303"), "{answer}");
    running.stop().await;
}
