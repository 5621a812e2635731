//! `punchguard attestation`: check an enrolment artefact offline (what an
//! operator runs when a phone cannot enrol), and set an organisation's app
//! identity and revocation list through the same use cases as gRPC.

use std::path::PathBuf;

use anyhow::{Context, bail};
use base64::Engine as _;
use serde::Serialize;

use super::{DatabaseArg, OrgArg, closing};
use crate::app::Actor;
use crate::app::attestation::{self as use_case, Artefact};
use crate::engine::attestation::{
    Anchors, AndroidApp, AppAttestEnvironment, AppIdentity, AttestedFacts, AttestedPlatform,
    CertSummary, IosApp, RevocationList,
};

#[derive(clap::Subcommand)]
pub enum AttestationCommand {
    /// Verify an enrolment artefact offline and print a JSON report; the
    /// exit status is 0 when it is trusted, 1 when it is not.
    Check(CheckArgs),
    /// Set an organisation's genuine app (what PutAppIdentity does).
    AppIdentity {
        #[command(flatten)]
        org: OrgArg,
        #[command(flatten)]
        app: AppArgs,
        #[command(flatten)]
        database: DatabaseArg,
    },
    /// Replace an organisation's revocation list with a file in Google's
    /// status format, or go back to the shipped snapshot.
    Revocations {
        #[command(flatten)]
        org: OrgArg,
        /// A status list as served at https://android.googleapis.com/attestation/status.
        #[arg(long, conflicts_with = "shipped", required_unless_present = "shipped")]
        file: Option<PathBuf>,
        /// Back to data/attestation/revocation-status.json.
        #[arg(long)]
        shipped: bool,
        #[command(flatten)]
        database: DatabaseArg,
    },
}

#[derive(clap::Args)]
pub struct CheckArgs {
    /// android (a PEM or DER certificate chain, leaf first) or ios (an
    /// App Attest attestation object, raw CBOR or base64).
    #[arg(long, value_parser = platform)]
    platform: AttestedPlatform,
    /// The artefact file.
    file: PathBuf,
    /// The challenge the device was given, hex.
    #[arg(long, conflicts_with = "challenge_text")]
    challenge: Option<String>,
    /// The challenge as text (sample artefacts often use one).
    #[arg(long)]
    challenge_text: Option<String>,
    /// Verify at this moment (RFC 3339) instead of now: for an artefact
    /// whose certificates have since expired.
    #[arg(long)]
    at: Option<jiff::Timestamp>,
    /// iOS: the key id generateKey returned, hex or base64.
    #[arg(long)]
    key_id: Option<String>,
    /// A revocation list in Google's format [default: the shipped snapshot].
    #[arg(long)]
    revocations: Option<PathBuf>,
    #[command(flatten)]
    app: AppArgs,
}

/// The genuine app's identity, as flags.
#[derive(clap::Args)]
pub struct AppArgs {
    /// Android package name.
    #[arg(long)]
    package: Option<String>,
    /// SHA-256 of an allowed Android signing certificate (repeatable).
    #[arg(long = "signing-cert-sha256")]
    signing_cert_sha256: Vec<String>,
    /// Apple team id.
    #[arg(long, requires = "bundle_id")]
    team_id: Option<String>,
    /// iOS bundle id.
    #[arg(long, requires = "team_id")]
    bundle_id: Option<String>,
    /// App Attest environment: production or development.
    #[arg(long, default_value = "production", value_parser = environment)]
    environment: AppAttestEnvironment,
}

impl AppArgs {
    fn identity(&self) -> AppIdentity {
        AppIdentity {
            android: self.package.clone().map(|package| AndroidApp {
                package,
                signing_cert_sha256: self
                    .signing_cert_sha256
                    .iter()
                    .map(|d| d.replace(':', "").to_ascii_lowercase())
                    .collect(),
            }),
            ios: match (&self.team_id, &self.bundle_id) {
                (Some(team_id), Some(bundle_id)) => Some(IosApp {
                    team_id: team_id.clone(),
                    bundle_id: bundle_id.clone(),
                    environment: self.environment,
                }),
                _ => None,
            },
        }
    }
}

fn platform(text: &str) -> Result<AttestedPlatform, String> {
    AttestedPlatform::parse(text).ok_or_else(|| "android or ios".into())
}

fn environment(text: &str) -> Result<AppAttestEnvironment, String> {
    AppAttestEnvironment::parse(text).ok_or_else(|| "production or development".into())
}

/// The report `check` prints.
#[derive(Serialize)]
struct CheckReport {
    trusted: bool,
    /// Why not (empty when trusted).
    invalid: Vec<String>,
    /// What every punch signed by this key would carry.
    findings: Vec<&'static str>,
    verified_at: jiff::Timestamp,
    chain: Vec<CertSummary>,
    key: KeyReport,
    facts: AttestedFacts,
    app_ids: Vec<String>,
}

#[derive(Serialize)]
struct KeyReport {
    platform: &'static str,
    algorithm: crate::engine::attestation::KeyAlgorithm,
    fingerprint_sha256: String,
    public_key: String,
}

pub async fn run(command: AttestationCommand) -> anyhow::Result<()> {
    match command {
        AttestationCommand::Check(args) => check(args),
        AttestationCommand::AppIdentity { org, app, database } => {
            let identity = app.identity();
            if identity.is_empty() {
                bail!(
                    "name the app: --package with --signing-cert-sha256, and/or --team-id with --bundle-id"
                );
            }
            let application = database.open().await?;
            let operator = Actor::cli(org.org, use_case::ROLE);
            let set = closing(&application, async {
                Ok(use_case::put_app_identity(&application, &operator, identity).await?)
            })
            .await?;
            println!("{}", serde_json::to_string_pretty(&set)?);
            Ok(())
        }
        AttestationCommand::Revocations {
            org,
            file,
            database,
            ..
        } => {
            let json = file
                .map(|f| std::fs::read(&f).with_context(|| format!("reading {}", f.display())))
                .transpose()?;
            let application = database.open().await?;
            let operator = Actor::cli(org.org, use_case::ROLE);
            let entries = closing(&application, async {
                Ok(use_case::put_revocations(&application, &operator, json).await?)
            })
            .await?;
            println!("revocation list set: {entries} serial numbers");
            Ok(())
        }
    }
}

fn check(args: CheckArgs) -> anyhow::Result<()> {
    let bytes =
        std::fs::read(&args.file).with_context(|| format!("reading {}", args.file.display()))?;
    let challenge = match (&args.challenge, &args.challenge_text) {
        (Some(hex_text), _) => hex::decode(hex_text).context("--challenge is not hex")?,
        (None, Some(text)) => text.as_bytes().to_vec(),
        (None, None) => bail!("give the challenge: --challenge HEX or --challenge-text TEXT"),
    };
    let artefact = match args.platform {
        AttestedPlatform::Android => Artefact::Android {
            chain: certificates(&bytes)?,
        },
        AttestedPlatform::Ios => Artefact::Ios {
            object: base64_or_raw(&bytes),
            key_id: match &args.key_id {
                Some(text) => hex::decode(text)
                    .or_else(|_| base64::engine::general_purpose::STANDARD.decode(text))
                    .context("--key-id is neither hex nor base64")?,
                None => bail!("--key-id is needed for an App Attest attestation"),
            },
        },
    };
    let revocations = match &args.revocations {
        Some(path) => std::sync::Arc::new(
            RevocationList::parse(&std::fs::read(path)?).map_err(anyhow::Error::msg)?,
        ),
        None => RevocationList::shipped(),
    };
    let at = args.at.unwrap_or_else(jiff::Timestamp::now);
    let report = use_case::verify(
        &artefact,
        &challenge,
        &args.app.identity(),
        Anchors::shipped(),
        at,
    )
    .map_err(|m| anyhow::anyhow!("{}: {}", m.field, m.reason))?;
    let printed = CheckReport {
        trusted: report.trusted(),
        invalid: report.invalid.clone(),
        findings: report
            .observations(&revocations)
            .iter()
            .map(|(c, _)| c.as_str())
            .collect(),
        verified_at: at,
        chain: report.chain.clone(),
        key: KeyReport {
            platform: report.key.platform.as_str(),
            algorithm: report.key.algorithm,
            fingerprint_sha256: report.key.fingerprint(),
            public_key: hex::encode(&report.key.public_key),
        },
        facts: report.facts.clone(),
        app_ids: report.app_ids.clone(),
    };
    println!("{}", serde_json::to_string_pretty(&printed)?);
    if !report.trusted() {
        std::process::exit(1);
    }
    Ok(())
}

/// A chain as PEM certificates (leaf first), or one DER certificate.
fn certificates(bytes: &[u8]) -> anyhow::Result<Vec<Vec<u8>>> {
    if bytes.starts_with(b"-----BEGIN") {
        let text = std::str::from_utf8(bytes).context("a PEM file is text")?;
        return Anchors::pem_roots(text).map_err(anyhow::Error::msg);
    }
    Ok(vec![bytes.to_vec()])
}

fn base64_or_raw(bytes: &[u8]) -> Vec<u8> {
    let trimmed: Vec<u8> = bytes
        .iter()
        .copied()
        .filter(|b| !b.is_ascii_whitespace())
        .collect();
    base64::engine::general_purpose::STANDARD
        .decode(&trimmed)
        .unwrap_or_else(|_| bytes.to_vec())
}
