//! Device attestation on PostgreSQL (see the SQLite twin for the contract).

use async_trait::async_trait;
use jiff::Timestamp;

use super::{
    PostgresStore, bump_version, commit_audited, corrupt, ensure_org, execute, query, query_opt,
};
use crate::engine::{DeviceId, EmployeeId, OrgId};
use crate::store::encoding::{self, from_us, to_us};
use crate::store::{
    AttestationSettings, AttestationStore, AuditEntry, Enrolment, EnrolmentChallenge, Result,
};

#[async_trait]
impl AttestationStore for PostgresStore {
    async fn put_challenge(&self, org: &OrgId, c: EnrolmentChallenge) -> Result<()> {
        let client = self.client().await?;
        ensure_org(&client, org).await?;
        execute(
            &client,
            "DELETE FROM enrolment_challenges WHERE org_id = $1 AND expires_us < $2",
            &[&org.as_str(), &to_us(Timestamp::now())],
        )
        .await?;
        execute(
            &client,
            "INSERT INTO enrolment_challenges
                 (org_id, challenge, device_id, employee_id, token_id, expires_us)
             VALUES ($1, $2, $3, $4, $5, $6)",
            &[
                &org.as_str(),
                &hex::encode(&c.challenge),
                &c.device.as_str(),
                &c.employee.as_str(),
                &c.token_id,
                &to_us(c.expires_at),
            ],
        )
        .await?;
        Ok(())
    }

    async fn take_challenge(
        &self,
        org: &OrgId,
        challenge: &[u8],
    ) -> Result<Option<EnrolmentChallenge>> {
        let row = query_opt(
            &self.client().await?,
            "DELETE FROM enrolment_challenges WHERE org_id = $1 AND challenge = $2
             RETURNING device_id, employee_id, token_id, expires_us",
            &[&org.as_str(), &hex::encode(challenge)],
        )
        .await?;
        row.map(|r| {
            Ok(EnrolmentChallenge {
                challenge: challenge.to_vec(),
                device: DeviceId::new(r.try_get::<_, String>(0)?).map_err(corrupt)?,
                employee: EmployeeId::new(r.try_get::<_, String>(1)?).map_err(corrupt)?,
                token_id: r.try_get(2)?,
                expires_at: from_us(r.try_get(3)?)?,
            })
        })
        .transpose()
    }

    async fn enrol_device(&self, org: &OrgId, e: Enrolment, audit: AuditEntry) -> Result<()> {
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        ensure_org(&tx, org).await?;
        execute(
            &tx,
            "INSERT INTO device_keys (org_id, device_id, employee_id, key, facts, counter, enrolled_us)
             VALUES ($1, $2, $3, $4, $5, 0, $6)
             ON CONFLICT (org_id, device_id) DO UPDATE SET employee_id = excluded.employee_id,
                 key = excluded.key, facts = excluded.facts, counter = 0,
                 enrolled_us = excluded.enrolled_us",
            &[
                &org.as_str(),
                &e.device.as_str(),
                &e.employee.as_str(),
                &encoding::key_to_json(&e.key),
                &encoding::facts_to_json(&e.facts),
                &to_us(e.enrolled_at),
            ],
        )
        .await?;
        commit_audited(tx, org, audit, ()).await
    }

    async fn enrolled_devices(&self, org: &OrgId, employee: &EmployeeId) -> Result<Vec<Enrolment>> {
        query(
            &self.client().await?,
            "SELECT device_id, key, facts, enrolled_us FROM device_keys
             WHERE org_id = $1 AND employee_id = $2 ORDER BY enrolled_us, device_id",
            &[&org.as_str(), &employee.as_str()],
        )
        .await?
        .iter()
        .map(|r| {
            let device = encoding::attested_device(
                &r.try_get::<_, String>(1)?,
                &r.try_get::<_, String>(2)?,
                0,
            )?;
            Ok(Enrolment {
                employee: employee.clone(),
                device: DeviceId::new(r.try_get::<_, String>(0)?).map_err(corrupt)?,
                key: device.key,
                facts: device.facts,
                enrolled_at: from_us(r.try_get(3)?)?,
            })
        })
        .collect()
    }

    async fn put_attestation_settings(
        &self,
        org: &OrgId,
        settings: AttestationSettings,
        audit: AuditEntry,
    ) -> Result<u64> {
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        ensure_org(&tx, org).await?;
        execute(
            &tx,
            "INSERT INTO org_attestation (org_id, app_identity, revocations, updated_us)
             VALUES ($1, $2, $3, $4)
             ON CONFLICT (org_id) DO UPDATE SET app_identity = excluded.app_identity,
                 revocations = excluded.revocations, updated_us = excluded.updated_us",
            &[
                &org.as_str(),
                &encoding::app_identity_to_json(&settings.app),
                &settings.revocations,
                &to_us(Timestamp::now()),
            ],
        )
        .await?;
        let version = bump_version(&tx, org).await?;
        commit_audited(tx, org, audit, version).await
    }

    async fn load_attestation_settings(&self, org: &OrgId) -> Result<AttestationSettings> {
        let row = query_opt(
            &self.client().await?,
            "SELECT app_identity, revocations FROM org_attestation WHERE org_id = $1",
            &[&org.as_str()],
        )
        .await?;
        Ok(match row {
            Some(r) => AttestationSettings {
                app: encoding::app_identity_from_json(&r.try_get::<_, String>(0)?)?,
                revocations: r.try_get(1)?,
            },
            None => AttestationSettings::default(),
        })
    }
}
