//! The demo partner of `make run`: one organization with an MSSP and a reseller
//! partnership and three API keys, seeded once through `shared::partner_data::onboarding` and described
//! in `.local/demo.json` (the only place the demo secrets are kept).

use std::path::Path;

use serde::{Deserialize, Serialize};
use shared::App;
use shared::access::api_keys::{self, Actor, ApiKeySpec};
use shared::access::credentials::{Credential, CredentialKind};
use shared::partner_data::onboarding::{self, NewPartnership};
use shared::storage::records::PartnershipType;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DemoFile {
    pub base_url: String,
    pub organization_id: String,
    pub organization_key: String,
    pub keys: Vec<DemoKey>,
    /// A bearer token for an admin of the demo organization (renewed on every start).
    #[serde(default)]
    pub admin_token: Option<String>,
    /// A bearer token for a second admin of the demo organization (`demo-colleague`), to
    /// share keys with and from (renewed on every start).
    #[serde(default)]
    pub colleague_token: Option<String>,
    /// What the seeder produced; a demo of an older seeder is replaced by a new one.
    #[serde(default)]
    pub seed_version: u32,
}

/// Bumped whenever the demo data changes shape (2: accounts, subscriptions and a year of
/// platform records; 4: accounts listed by name and by state, with their counts — a table
/// kept from before gets a fresh demo partner whose account list is complete).
pub const SEED_VERSION: u32 = 4;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DemoKey {
    pub name: String,
    pub api_key: String,
    pub partnership_type: PartnershipType,
    pub scopes: Vec<String>,
    pub allowed_origins: Vec<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    #[error("cannot seed the demo partner: {0}")]
    Seed(#[from] shared::ApiError),
    #[error("cannot read or write {path}: {source}")]
    File {
        path: String,
        source: std::io::Error,
    },
    #[error("the demo organization in {0} is not in the table")]
    Missing(String),
}

/// Seeds the demo organization and its keys.
pub async fn seed(app: &App, base_url: &str) -> Result<DemoFile, DemoError> {
    let (store, now) = (&app.store, app.clock.now_ms());
    let org = onboarding::create_organization(
        store,
        now,
        "Northwind Security AB",
        &[
            NewPartnership {
                // The portal's worked example: a 651-IP SNS commitment.
                minimum_commitments: [("SNS".to_owned(), 651)].into(),
                ..NewPartnership::new("Northwind MSSP", PartnershipType::Mssp)
            },
            NewPartnership::new("Northwind Reseller", PartnershipType::Reseller),
        ],
        true,
    )
    .await?;
    let partnership = |kind| {
        org.partnerships
            .iter()
            .find(|p| p.kind == kind)
            .map(|p| p.id.clone())
            .unwrap_or_default()
    };
    let specs = [
        (
            "Demo MSSP",
            PartnershipType::Mssp,
            vec!["customers:read", "accounts:read", "accounts:write"],
            vec![],
        ),
        (
            "Demo reseller",
            PartnershipType::Reseller,
            vec!["customers:read", "accounts:read", "accounts:write"],
            vec![],
        ),
        (
            "Demo MSSP restricted",
            PartnershipType::Mssp,
            vec![],
            vec!["127.0.0.1"],
        ),
    ];
    let mut keys = Vec::new();
    for (name, kind, optional_scopes, allowed_origins) in specs {
        let allow_any_origin = allowed_origins.is_empty();
        let spec = ApiKeySpec {
            name: name.to_owned(),
            partnership_id: partnership(kind),
            optional_scopes: optional_scopes.into_iter().map(str::to_owned).collect(),
            allowed_origins: allowed_origins.into_iter().map(str::to_owned).collect(),
            allow_any_origin,
            cors_origins: Vec::new(),
            expires_at_ms: None,
            share_with: shared::access::sharing::Recipients::none(),
        };
        let seeder = Actor {
            id: "seed".into(),
            label: None,
            ip: None,
        };
        let (secret, record) = api_keys::create_key(app, &org, spec, &seeder).await?;
        keys.push(DemoKey {
            name: record.name,
            api_key: secret.expose().to_owned(),
            partnership_type: kind,
            scopes: record.scopes,
            allowed_origins: record.allowed_origins,
        });
    }
    // A year of customers, subscriptions and platform records for both partnerships.
    let year_ago = shared::partner_data::calendar::sub_days(
        shared::partner_data::calendar::stockholm_date(now),
        365,
    );
    for (kind, accounts, seed) in [
        (PartnershipType::Mssp, 30, 1),
        (PartnershipType::Reseller, 20, 2),
    ] {
        if let Some(partnership) = org.partnerships.iter().find(|p| p.kind == kind) {
            let population = crate::demo_data::Population {
                accounts,
                from: year_ago,
                every_product: false,
                seed,
            };
            let records =
                crate::demo_data::seed_partnership(app, &org.org_id, partnership, population)
                    .await?;
            tracing::info!(partnership = %partnership.name, accounts, records, "demo data seeded");
        }
    }
    Ok(DemoFile {
        base_url: base_url.to_owned(),
        organization_id: org.org_id,
        organization_key: org.organization_key.unwrap_or_default(),
        keys,
        admin_token: None,
        colleague_token: None,
        seed_version: SEED_VERSION,
    })
}

/// The demo organization's admin, as the local identity provider names it.
pub const DEMO_ADMIN_SUBJECT: &str = "demo-admin";
pub const DEMO_ADMIN_EMAIL: &str = "admin@northwind.example";
/// A second admin of the demo organization (no sign-in of its own: `colleague_token`).
pub const DEMO_COLLEAGUE_SUBJECT: &str = "demo-colleague";
pub const DEMO_COLLEAGUE_EMAIL: &str = "colleague@northwind.example";

/// Makes `subject` (of the local identity provider) an admin of the demo organization, as
/// an operator would with `portalctl add-admin` (kept if it is one already).
async fn ensure_demo_admin(
    app: &App,
    org_id: &str,
    (subject, email): (&str, &str),
) -> Result<(), DemoError> {
    let identity = shared::access::admin::Identity {
        issuer: crate::admin_auth::LOCAL_ISSUER.into(),
        subject: subject.into(),
    };
    let operator = Actor {
        id: "operator:make-run".into(),
        label: None,
        ip: None,
    };
    match shared::access::admin::add_admin(
        &app.store,
        app.clock.now_ms(),
        org_id,
        &identity,
        Some(email.into()),
        &operator,
    )
    .await
    {
        Ok(_) | Err(shared::ApiError::Conflict(_)) => Ok(()),
        Err(err) => Err(err.into()),
    }
}

/// Reuses the demo partner described in `path` if the table still has it, else seeds a
/// new one; writes `path` either way (the base URL may have changed). Returns whether it seeded.
pub async fn load_or_seed(
    app: &App,
    jwt: &crate::admin_auth::LocalJwt,
    base_url: &str,
    path: &Path,
) -> Result<(DemoFile, bool), DemoError> {
    let existing = std::fs::read_to_string(path)
        .ok()
        .and_then(|text| serde_json::from_str::<DemoFile>(&text).ok());
    let (mut demo, seeded) = match existing {
        Some(demo) if still_works(app, &demo).await? => (demo, false),
        _ => (seed(app, base_url).await?, true),
    };
    demo.base_url = base_url.to_owned();
    let now_seconds = app.clock.now_ms() / 1000;
    for (subject, email) in [
        (DEMO_ADMIN_SUBJECT, DEMO_ADMIN_EMAIL),
        (DEMO_COLLEAGUE_SUBJECT, DEMO_COLLEAGUE_EMAIL),
    ] {
        ensure_demo_admin(app, &demo.organization_id, (subject, email)).await?;
    }
    let token = |(subject, email)| jwt.admin_token(subject, email, now_seconds, 7 * 24 * 3600);
    demo.admin_token = Some(token((DEMO_ADMIN_SUBJECT, DEMO_ADMIN_EMAIL)));
    demo.colleague_token = Some(token((DEMO_COLLEAGUE_SUBJECT, DEMO_COLLEAGUE_EMAIL)));
    let text = serde_json::to_string_pretty(&demo).unwrap_or_default();
    write_private(path, &text).map_err(|source| DemoError::File {
        path: path.display().to_string(),
        source,
    })?;
    Ok((demo, seeded))
}

/// Is the demo partner of `demo` still in the table, with its first key usable? (Data of
/// an older version of the project, or a wiped table, gets a fresh demo partner.)
async fn still_works(app: &App, demo: &DemoFile) -> Result<bool, DemoError> {
    let Some(first) = demo
        .keys
        .first()
        .filter(|_| demo.seed_version == SEED_VERSION)
    else {
        return Ok(false);
    };
    let Ok(secret) = Credential::parse(CredentialKind::ApiKey, &first.api_key) else {
        return Ok(false);
    };
    let internal = shared::ApiError::internal;
    let Some(lookup) = app
        .store
        .api_key(&app.pepper.hash(&secret))
        .await
        .map_err(internal)?
    else {
        return Ok(false);
    };
    Ok(lookup.org_id == demo.organization_id
        && app
            .store
            .key_record(&lookup.org_id, &lookup.key_id)
            .await
            .map_err(internal)?
            .is_some())
}

/// Writes a file only its owner can read: it holds the demo secrets.
fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(true)
        .write(true)
        .mode(0o600)
        .open(path)?;
    file.write_all(text.as_bytes())?;
    file.write_all(b"\n")
}
