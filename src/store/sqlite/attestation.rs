//! Device attestation on SQLite: enrolment challenges, enrolled keys and
//! the organisation's attestation settings.

use async_trait::async_trait;
use jiff::Timestamp;
use rusqlite::{Connection, OptionalExtension, params};

use super::{SqliteStore, audited, bump_version, ensure_org};
use crate::engine::attestation::AttestedDevice;
use crate::engine::{DeviceId, EmployeeId, OrgId};
use crate::store::encoding::{self, from_us, to_us};
use crate::store::{
    AttestationSettings, AttestationStore, AuditEntry, Enrolment, EnrolmentChallenge, Result,
    StoreError,
};

/// The device's enrolled key when it enrolled for `employee`.
pub(super) fn attested_device(
    conn: &Connection,
    org: &OrgId,
    employee: &EmployeeId,
    device: &DeviceId,
) -> Result<Option<AttestedDevice>> {
    conn.prepare_cached(
        "SELECT key, facts, counter FROM device_keys
         WHERE org_id = ?1 AND device_id = ?2 AND employee_id = ?3",
    )?
    .query_row(
        params![org.as_str(), device.as_str(), employee.as_str()],
        |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, i64>(2)?,
            ))
        },
    )
    .optional()?
    .map(|(key, facts, counter)| encoding::attested_device(&key, &facts, counter))
    .transpose()
}

/// Raises the device's assertion counter, in the punch's transaction.
pub(super) fn raise_counter(
    tx: &Connection,
    org: &OrgId,
    device: &DeviceId,
    counter: u32,
) -> Result<()> {
    tx.prepare_cached(
        "UPDATE device_keys SET counter = ?3 WHERE org_id = ?1 AND device_id = ?2 AND counter < ?3",
    )?
    .execute(params![org.as_str(), device.as_str(), i64::from(counter)])?;
    Ok(())
}

fn enrolment(r: &rusqlite::Row<'_>) -> rusqlite::Result<Result<Enrolment>> {
    let (employee, device, key, facts, at): (String, String, String, String, i64) =
        (r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?);
    Ok((|| {
        let device_data = encoding::attested_device(&key, &facts, 0)?;
        Ok(Enrolment {
            employee: EmployeeId::new(employee).map_err(StoreError::Corrupt)?,
            device: DeviceId::new(device).map_err(StoreError::Corrupt)?,
            key: device_data.key,
            facts: device_data.facts,
            enrolled_at: from_us(at)?,
        })
    })())
}

#[async_trait]
impl AttestationStore for SqliteStore {
    async fn put_challenge(&self, org: &OrgId, c: EnrolmentChallenge) -> Result<()> {
        let org = org.clone();
        self.writer
            .write(move |tx| {
                ensure_org(tx, &org)?;
                tx.execute(
                    "DELETE FROM enrolment_challenges WHERE org_id = ?1 AND expires_us < ?2",
                    params![org.as_str(), to_us(Timestamp::now())],
                )?;
                tx.execute(
                    "INSERT INTO enrolment_challenges
                         (org_id, challenge, device_id, employee_id, token_id, expires_us)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                    params![
                        org.as_str(),
                        hex::encode(&c.challenge),
                        c.device.as_str(),
                        c.employee.as_str(),
                        c.token_id,
                        to_us(c.expires_at)
                    ],
                )?;
                Ok(())
            })
            .await
    }

    async fn take_challenge(
        &self,
        org: &OrgId,
        challenge: &[u8],
    ) -> Result<Option<EnrolmentChallenge>> {
        let (org, challenge) = (org.clone(), challenge.to_vec());
        self.writer
            .write(move |tx| {
                let row: Option<(String, String, String, i64)> = tx
                    .query_row(
                        "DELETE FROM enrolment_challenges WHERE org_id = ?1 AND challenge = ?2
                         RETURNING device_id, employee_id, token_id, expires_us",
                        params![org.as_str(), hex::encode(&challenge)],
                        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
                    )
                    .optional()?;
                row.map(|(device, employee, token_id, expires)| {
                    Ok(EnrolmentChallenge {
                        challenge: challenge.clone(),
                        device: DeviceId::new(device).map_err(StoreError::Corrupt)?,
                        employee: EmployeeId::new(employee).map_err(StoreError::Corrupt)?,
                        token_id,
                        expires_at: from_us(expires)?,
                    })
                })
                .transpose()
            })
            .await
    }

    async fn enrol_device(&self, org: &OrgId, e: Enrolment, audit: AuditEntry) -> Result<()> {
        let org = org.clone();
        let employee = e.employee.clone();
        self.write_about(&org.clone(), &employee, audited(org.clone(), audit, move |tx| {
            ensure_org(tx, &org)?;
            tx.execute(
                "INSERT INTO device_keys (org_id, device_id, employee_id, key, facts, counter, enrolled_us)
                 VALUES (?1, ?2, ?3, ?4, ?5, 0, ?6)
                 ON CONFLICT (org_id, device_id) DO UPDATE SET employee_id = excluded.employee_id,
                     key = excluded.key, facts = excluded.facts, counter = 0,
                     enrolled_us = excluded.enrolled_us",
                params![
                    org.as_str(),
                    e.device.as_str(),
                    e.employee.as_str(),
                    encoding::key_to_json(&e.key),
                    encoding::facts_to_json(&e.facts),
                    to_us(e.enrolled_at)
                ],
            )?;
            Ok(())
        }))
        .await
    }

    async fn enrolled_devices(&self, org: &OrgId, employee: &EmployeeId) -> Result<Vec<Enrolment>> {
        let (org, employee) = (org.clone(), employee.clone());
        self.read(move |conn| {
            conn.prepare_cached(
                "SELECT employee_id, device_id, key, facts, enrolled_us FROM device_keys
                 WHERE org_id = ?1 AND employee_id = ?2 ORDER BY enrolled_us, device_id",
            )?
            .query_map(params![org.as_str(), employee.as_str()], enrolment)?
            .map(|r| r?)
            .collect()
        })
        .await
    }

    async fn put_attestation_settings(
        &self,
        org: &OrgId,
        settings: AttestationSettings,
        audit: AuditEntry,
    ) -> Result<u64> {
        let org = org.clone();
        self.writer
            .write(audited(org.clone(), audit, move |tx| {
                ensure_org(tx, &org)?;
                tx.execute(
                    "INSERT INTO org_attestation (org_id, app_identity, revocations, updated_us)
                     VALUES (?1, ?2, ?3, ?4)
                     ON CONFLICT (org_id) DO UPDATE SET app_identity = excluded.app_identity,
                         revocations = excluded.revocations, updated_us = excluded.updated_us",
                    params![
                        org.as_str(),
                        encoding::app_identity_to_json(&settings.app),
                        settings.revocations,
                        to_us(Timestamp::now())
                    ],
                )?;
                bump_version(tx, &org)
            }))
            .await
    }

    async fn load_attestation_settings(&self, org: &OrgId) -> Result<AttestationSettings> {
        let org = org.clone();
        self.read(move |conn| {
            let row: Option<(String, Option<String>)> = conn
                .prepare_cached(
                    "SELECT app_identity, revocations FROM org_attestation WHERE org_id = ?1",
                )?
                .query_row([org.as_str()], |r| Ok((r.get(0)?, r.get(1)?)))
                .optional()?;
            Ok(match row {
                Some((app, revocations)) => AttestationSettings {
                    app: encoding::app_identity_from_json(&app)?,
                    revocations,
                },
                None => AttestationSettings::default(),
            })
        })
        .await
    }
}
