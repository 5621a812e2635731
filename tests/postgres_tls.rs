//! PostgreSQL over TLS (issue 12): the store honours libpq's `sslmode`,
//! against the machine's server wearing a certificate this test makes.
//! The test installs its certificate with ALTER SYSTEM (the CI user is a
//! superuser on the machine's server) and puts the server's own back at the
//! end; connections made meanwhile by other tests keep working, since
//! `prefer` takes any certificate. Needs `PUNCHGUARD_TEST_POSTGRES`.

mod common;

use std::os::unix::fs::{MetadataExt, PermissionsExt};

use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair};
use tokio_postgres::{Client, NoTls};

use common::postgres::{ENV, Schema};
use punchguard::store::Store;
use punchguard::store::postgres::PostgresStore;
use punchguard::store::prelude::*;

/// A CA and, signed by it, a server certificate for `localhost` only.
fn pki() -> (String, String, String) {
    let ca_key = KeyPair::generate().unwrap();
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca = ca_params.self_signed(&ca_key).unwrap();
    let issuer = Issuer::new(ca_params, ca_key);
    let key = KeyPair::generate().unwrap();
    let server = CertificateParams::new(vec!["localhost".into()])
        .unwrap()
        .signed_by(&key, &issuer)
        .unwrap();
    (ca.pem(), server.pem(), key.serialize_pem())
}

async fn superuser(url: &str) -> Client {
    let (client, connection) = tokio_postgres::connect(url, NoTls).await.unwrap();
    tokio::spawn(connection);
    client
}

/// Whether the sessions of `application` are encrypted, per the server.
async fn encrypted(admin: &Client, application: &str) -> Vec<bool> {
    admin
        .query(
            "SELECT s.ssl FROM pg_stat_ssl s JOIN pg_stat_activity a USING (pid)
             WHERE a.application_name = $1",
            &[&application],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_store_honours_sslmode_against_a_real_server() {
    let Some(schema) = Schema::fresh("the_store_honours_sslmode_against_a_real_server").await
    else {
        return;
    };
    let base = std::env::var(ENV).unwrap();
    let admin = superuser(&base).await;
    let data: String = admin
        .query_one("SHOW data_directory", &[])
        .await
        .unwrap()
        .get(0);
    let (ca, server_cert, server_key) = pki();
    let dir = tempfile::tempdir().unwrap();
    let ca_path = dir.path().join("ca.pem");
    std::fs::write(&ca_path, &ca).unwrap();
    let (wrong_ca, _, _) = pki();
    let wrong_ca_path = dir.path().join("wrong-ca.pem");
    std::fs::write(&wrong_ca_path, &wrong_ca).unwrap();
    // The server reads its key as its own user, and only a private one.
    let owner = std::fs::metadata(&data).unwrap();
    let (cert_file, key_file) = (
        format!("{data}/punchguard-test-server.crt"),
        format!("{data}/punchguard-test-server.key"),
    );
    for (path, text) in [(&cert_file, &server_cert), (&key_file, &server_key)] {
        std::fs::write(path, text).unwrap();
        std::os::unix::fs::chown(path, Some(owner.uid()), Some(owner.gid())).unwrap();
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).unwrap();
    }
    // One statement at a time: ALTER SYSTEM refuses a transaction block.
    for statement in [
        "ALTER SYSTEM SET ssl = on".to_owned(),
        format!("ALTER SYSTEM SET ssl_cert_file = '{cert_file}'"),
        format!("ALTER SYSTEM SET ssl_key_file = '{key_file}'"),
        "SELECT pg_reload_conf()".to_owned(),
    ] {
        admin.batch_execute(&statement).await.unwrap();
    }

    let checks = tokio::spawn({
        let (schema_url, ca_path, wrong_ca_path) = (
            schema.url.clone(),
            ca_path.display().to_string(),
            wrong_ca_path.display().to_string(),
        );
        let admin_url = base.clone();
        async move {
            let admin = superuser(&admin_url).await;
            let with = |host: &str, params: &str| {
                let url = schema_url.replacen("127.0.0.1", host, 1);
                let sep = if url.contains('?') { '&' } else { '?' };
                format!("{url}{sep}{params}")
            };
            // verify-full: the chain to our CA and the name (localhost). The
            // reload takes a moment to reach new connections.
            let full = with(
                "localhost",
                &format!("sslmode=verify-full&sslrootcert={ca_path}&application_name=pg-tls-full"),
            );
            let mut store = None;
            for _ in 0..50 {
                match PostgresStore::open(&full).await {
                    Ok(opened) => {
                        store = Some(opened);
                        break;
                    }
                    Err(_) => tokio::time::sleep(std::time::Duration::from_millis(100)).await,
                }
            }
            let store = store.expect("verify-full with the server's CA connects");
            store
                .latest_seq(&punchguard::engine::OrgId::new("acme").unwrap())
                .await
                .unwrap();
            let sessions = encrypted(&admin, "pg-tls-full").await;
            assert!(
                !sessions.is_empty() && sessions.iter().all(|s| *s),
                "{sessions:?}"
            );
            store.close().await.unwrap();

            // verify-full by address: the certificate names localhost only.
            let by_address = with(
                "127.0.0.1",
                &format!("sslmode=verify-full&sslrootcert={ca_path}"),
            );
            let refused = PostgresStore::open(&by_address).await.err();
            assert!(refused.is_some(), "a certificate for another name");
            // verify-ca does not check the name.
            let ca_only = with(
                "127.0.0.1",
                &format!("sslmode=verify-ca&sslrootcert={ca_path}"),
            );
            PostgresStore::open(&ca_only)
                .await
                .unwrap()
                .close()
                .await
                .unwrap();
            // Another CA's chain is refused whatever the mode checks.
            let impostor = with(
                "localhost",
                &format!("sslmode=verify-ca&sslrootcert={wrong_ca_path}"),
            );
            assert!(PostgresStore::open(&impostor).await.is_err());

            // require: encrypted, any certificate (libpq's meaning).
            let require = with(
                "127.0.0.1",
                "sslmode=require&application_name=pg-tls-require",
            );
            let store = PostgresStore::open(&require).await.unwrap();
            store
                .latest_seq(&punchguard::engine::OrgId::new("acme").unwrap())
                .await
                .unwrap();
            let sessions = encrypted(&admin, "pg-tls-require").await;
            assert!(
                !sessions.is_empty() && sessions.iter().all(|s| *s),
                "{sessions:?}"
            );
            store.close().await.unwrap();

            // disable: in clear, as asked.
            let plain = with(
                "127.0.0.1",
                "sslmode=disable&application_name=pg-tls-disable",
            );
            let store = PostgresStore::open(&plain).await.unwrap();
            store
                .latest_seq(&punchguard::engine::OrgId::new("acme").unwrap())
                .await
                .unwrap();
            let sessions = encrypted(&admin, "pg-tls-disable").await;
            assert!(
                !sessions.is_empty() && sessions.iter().all(|s| !*s),
                "{sessions:?}"
            );
            store.close().await.unwrap();
        }
    })
    .await;

    // The server's own settings back, whatever happened above.
    for statement in [
        "ALTER SYSTEM RESET ssl",
        "ALTER SYSTEM RESET ssl_cert_file",
        "ALTER SYSTEM RESET ssl_key_file",
        "SELECT pg_reload_conf()",
    ] {
        admin.batch_execute(statement).await.unwrap();
    }
    drop(schema);
    if let Err(e) = checks {
        std::panic::resume_unwind(e.into_panic());
    }
}
