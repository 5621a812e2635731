//! The CLI and gRPC are two doors to one application layer: a token issued,
//! rotated or revoked through either follows the same rules, gets the same
//! grant and leaves the same audit entry (issue 12).

mod common;

use std::process::Command;

use common::*;
use punchguard::auth::Role;
use punchguard::engine::OrgId;
use punchguard::proto::v1 as pb;
use punchguard::store::{AuditQuery, TokenRecord};

const BIN: &str = env!("CARGO_BIN_EXE_punchguard");

/// Runs a CLI verb on the server's database; its standard output, or its
/// standard error when it failed.
fn cli(server: &TestServer, args: &[&str]) -> Result<String, String> {
    let out = Command::new(BIN)
        .args(args)
        .arg("--database")
        .arg(&server.database)
        .output()
        .unwrap();
    let text = |b: Vec<u8>| String::from_utf8(b).unwrap().trim().to_owned();
    match out.status.success() {
        true => Ok(text(out.stdout)),
        false => Err(text(out.stderr)),
    }
}

async fn record(server: &TestServer, id: &str) -> TokenRecord {
    let org = OrgId::new("acme").unwrap();
    let tokens = server.app.store.list_tokens(&org).await.unwrap();
    tokens.into_iter().find(|t| t.id == id).unwrap()
}

fn id_of(token: &str) -> String {
    punchguard::auth::TokenHash::of(token).id()
}

/// (role, employee, lifetime in days rounded) of a token.
fn shape(t: &TokenRecord) -> (Role, Option<String>, Option<i64>) {
    let days = t.grant.expires_at.map(|at| {
        let lifetime = at.duration_since(t.created_at);
        (lifetime.as_secs_f64() / 86_400.0).round() as i64
    });
    let employee = t.grant.employee.as_ref().map(|e| e.as_str().to_owned());
    (t.grant.role, employee, days)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cli_and_grpc_issue_the_same_grants_and_the_same_audit() {
    let server = TestServer::start().await;
    let admin = cli(
        &server,
        &["token", "create", "--org", "acme", "--role", "admin"],
    )
    .unwrap();
    let mut grpc = server.admin_client().await;

    // Issue: an HR token for 90 days, through each door.
    let by_grpc = grpc
        .create_token(authed(
            pb::CreateTokenRequest {
                role: "hr".into(),
                expires_in_days: 90,
                ..Default::default()
            },
            &admin,
        ))
        .await
        .unwrap()
        .into_inner();
    let by_cli = cli(
        &server,
        &[
            "token",
            "create",
            "--org",
            "acme",
            "--role",
            "hr",
            "--expires-in-days",
            "90",
        ],
    )
    .unwrap();
    let grpc_id = by_grpc.info.unwrap().token_id;
    let cli_id = id_of(&by_cli);
    let issued = (
        record(&server, &grpc_id).await,
        record(&server, &cli_id).await,
    );
    assert_eq!(shape(&issued.0), (Role::Hr, None, Some(90)));
    assert_eq!(shape(&issued.0), shape(&issued.1));

    // Rotate: each new token keeps the 90-day lifetime.
    let rotated_grpc = grpc
        .rotate_token(authed(
            pb::RotateTokenRequest {
                token_id: grpc_id.clone(),
                grace_minutes: 10,
                ..Default::default()
            },
            &admin,
        ))
        .await
        .unwrap()
        .into_inner();
    let rotated_cli = cli(
        &server,
        &[
            "token",
            "rotate",
            "--org",
            "acme",
            "--id",
            &cli_id,
            "--grace-minutes",
            "10",
        ],
    )
    .unwrap();
    let rotated = (
        record(&server, &rotated_grpc.info.unwrap().token_id).await,
        record(&server, &id_of(&rotated_cli)).await,
    );
    assert_eq!(shape(&rotated.0), (Role::Hr, None, Some(90)));
    assert_eq!(shape(&rotated.0), shape(&rotated.1));

    // Revoke the rotated tokens.
    grpc.revoke_token(authed(
        pb::TokenIdRequest {
            token_id: rotated.0.id.clone(),
            ..Default::default()
        },
        &admin,
    ))
    .await
    .unwrap();
    cli(
        &server,
        &["token", "revoke", "--org", "acme", "--id", &rotated.1.id],
    )
    .unwrap();

    // The same refusals, naming the same field.
    let refused = grpc
        .create_token(authed(
            pb::CreateTokenRequest {
                role: "device".into(),
                ..Default::default()
            },
            &admin,
        ))
        .await
        .unwrap_err();
    assert_eq!(violated_field(&refused).as_deref(), Some("employee_id"));
    let refused = cli(
        &server,
        &["token", "create", "--org", "acme", "--role", "device"],
    );
    assert!(refused.unwrap_err().contains("employee_id"));
    let refused = grpc
        .create_token(authed(
            pb::CreateTokenRequest {
                role: "hr".into(),
                expires_in_days: 4000,
                ..Default::default()
            },
            &admin,
        ))
        .await
        .unwrap_err();
    assert_eq!(violated_field(&refused).as_deref(), Some("expires_in_days"));
    let refused = cli(
        &server,
        &[
            "token",
            "create",
            "--org",
            "acme",
            "--role",
            "hr",
            "--expires-in-days",
            "4000",
        ],
    );
    assert!(refused.unwrap_err().contains("expires_in_days"));
    let missing = cli(
        &server,
        &["token", "revoke", "--org", "acme", "--id", "nope"],
    );
    assert!(missing.unwrap_err().contains("no token nope"));

    // The audit log: one entry per change, the same actions from each door.
    let log = server
        .app
        .store
        .list_audit(AuditQuery {
            org: OrgId::new("acme").unwrap(),
            employee: None,
            after_id: 0,
            limit: 100,
        })
        .await
        .unwrap();
    let actions = |actor: &str| -> Vec<(String, String)> {
        log.iter()
            .filter(|r| r.entry.actor == actor)
            // The admin token the test began with is not part of the comparison.
            .filter(|r| r.entry.detail != id_of(&admin))
            .map(|r| (r.entry.action.clone(), r.entry.role.as_str().to_owned()))
            .collect()
    };
    let expected: Vec<(String, String)> = ["CreateToken", "RotateToken", "RevokeToken"]
        .iter()
        .map(|a| (a.to_string(), "admin".to_string()))
        .collect();
    assert_eq!(actions(&id_of(&admin)), expected, "gRPC: {log:#?}");
    assert_eq!(actions("cli"), expected, "CLI: {log:#?}");
    server.stop().await;
}

/// Runs a CLI verb on the database at `db`.
fn cli_on(db: &std::path::Path, args: &[&str]) -> Result<String, String> {
    let out = Command::new(BIN)
        .args(args)
        .arg("--database")
        .arg(db)
        .output()
        .unwrap();
    let text = |b: Vec<u8>| String::from_utf8(b).unwrap().trim().to_owned();
    match out.status.success() {
        true => Ok(text(out.stdout)),
        false => Err(text(out.stderr)),
    }
}

#[test]
fn read_only_verbs_refuse_a_missing_database_and_an_unknown_org() {
    let dir = tempfile::tempdir().unwrap();
    let typo = dir.path().join("punchguard.dbb");
    let export = [
        "export",
        "punches",
        "--from",
        "2026-11-01",
        "--to",
        "2026-11-02",
    ];
    for args in [
        &["token", "list", "--org", "acme"][..],
        &[&export[..], &["--org", "acme"]].concat(),
    ] {
        let refused = cli_on(&typo, args).unwrap_err();
        assert!(refused.contains("no database at"), "{args:?}: {refused}");
        assert!(!typo.exists(), "{args:?} created the mistyped database");
    }

    let db = dir.path().join("punchguard.db");
    cli_on(
        &db,
        &["token", "create", "--org", "acme", "--role", "admin"],
    )
    .unwrap();
    assert!(cli_on(&db, &["token", "list", "--org", "acme"]).is_ok());
    for args in [
        &["token", "list", "--org", "acme-typo"][..],
        &[&export[..], &["--org", "acme-typo"]].concat(),
    ] {
        let refused = cli_on(&db, args).unwrap_err();
        assert!(
            refused.contains("no organisation acme-typo"),
            "{args:?}: {refused}"
        );
    }
}
