//! `portalctl`: the vendor's operators onboard partner organizations (partners never
//! create organizations) with their own AWS credentials, or against DynamoDB Local with
//! `--endpoint`. Uses the same onboarding code as the demo seed of `make run`.
//!
//! ```text
//! portalctl --table T create-org --name "Northwind Security AB" --partnership "Northwind MSSP=mssp"
//! portalctl --table T list-orgs
//! portalctl --table T show-org <organization id>
//! portalctl --table T add-admin <organization id> --issuer <token iss> --subject <token sub>
//! portalctl --table T list-admins <organization id>
//! portalctl --table T remove-admin --issuer <token iss> --subject <token sub>
//! portalctl --table T build-period-totals <organization id> --partnership <id>
//! ```

use clap::{Parser, Subcommand};
use serde_json::json;
use shared::access::admin::Identity;
use shared::access::api_keys::Actor;
use shared::partner_data::calendar::{Period, PeriodKind};
use shared::partner_data::commitments::{self, CommitmentChange};
use shared::partner_data::onboarding::{self, NewPartnership};
use shared::platform::clock::{Clock, SystemClock};
use shared::storage::Store;
use shared::storage::records::{OrganizationRecord, Partnership, PartnershipType};

#[derive(Parser)]
#[command(
    name = "portalctl",
    about = "Onboard partner organizations of the Partner Portal API"
)]
struct Cli {
    /// The DynamoDB table (the stack's TableName output).
    #[arg(long, env = "TABLE_NAME")]
    table: String,
    /// A DynamoDB endpoint that takes dummy credentials, e.g. DynamoDB Local at
    /// http://127.0.0.1:8000; without it, the default AWS credential chain and region.
    #[arg(long)]
    endpoint: Option<String>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Create an organization with its partnerships (API access stays off until one of its
    /// admins enables it, unless --enable-api-access).
    CreateOrg {
        #[arg(long)]
        name: String,
        /// `NAME=mssp` or `NAME=reseller`, optionally `;skus=SNS,DA` and `;min=SNS:651`;
        /// repeat for each partnership.
        #[arg(long = "partnership", required = true)]
        partnerships: Vec<String>,
        #[arg(long)]
        enable_api_access: bool,
    },
    /// List every organization.
    ListOrgs,
    /// Show an organization, its partnerships and its admins.
    ShowOrg { org_id: String },
    /// Make a signed-in identity (its token's issuer and subject) an admin of an
    /// organization. Audited in the organization's trail.
    AddAdmin {
        org_id: String,
        /// The token's `iss`, e.g. https://cognito-idp.eu-north-1.amazonaws.com/<pool id>.
        #[arg(long)]
        issuer: String,
        /// The token's `sub` (Cognito: the user's sub attribute, not the user name).
        #[arg(long)]
        subject: String,
        /// A label for the audit trail; never used to decide anything.
        #[arg(long)]
        email: Option<String>,
        #[arg(long, env = "PORTAL_OPERATOR", default_value = "portalctl")]
        operator: String,
    },
    /// End an identity's admin membership: its tokens open no admin route from then on.
    RemoveAdmin {
        #[arg(long)]
        issuer: String,
        #[arg(long)]
        subject: String,
        #[arg(long, env = "PORTAL_OPERATOR", default_value = "portalctl")]
        operator: String,
    },
    /// List an organization's admins.
    ListAdmins { org_id: String },
    /// Rebuild a partnership's account listing (the name and state orders `GET /v1/accounts`
    /// pages through, and its counts) from its accounts: once for a table written before
    /// listings were kept. Running it again changes nothing.
    RebuildAccountListing {
        org_id: String,
        #[arg(long)]
        partnership: String,
    },
    /// Build the daily totals and company listing of every MSSP period a partnership's
    /// reports offer, from the periods' rows: ahead of traffic after an upgrade from a table
    /// written before they were kept (else each period's first report read builds its own).
    /// Running it again changes nothing.
    BuildPeriodTotals {
        org_id: String,
        #[arg(long)]
        partnership: String,
    },
    /// Set a partnership's minimum commitment for one product from a date on (units 0 ends
    /// it). Audited in the organization's trail. A change may not reach a closed period.
    SetCommitment {
        org_id: String,
        #[arg(long)]
        partnership: String,
        #[arg(long)]
        product: String,
        #[arg(long)]
        units: u64,
        /// First day (YYYY-MM-DD, Stockholm) of the new term.
        #[arg(long)]
        from: String,
        /// Last day of the term; without it, the term has no end.
        #[arg(long)]
        until: Option<String>,
        /// Who makes the change, for the audit trail.
        #[arg(long, env = "PORTAL_OPERATOR", default_value = "portalctl")]
        operator: String,
        /// The stack's ReportGraceDays: days a period stays `closing` before it is closed.
        #[arg(long, env = "REPORT_GRACE_DAYS", default_value_t = shared::platform::config::DEFAULT_REPORT_GRACE_DAYS)]
        grace_days: u32,
    },
}

/// `NAME=TYPE[;skus=SNS,DA][;min=SNS:651,DA:10]`: a partnership, its SKUs (default: every
/// product) and its minimum commitments per product.
fn parse_partnership(text: &str) -> Result<NewPartnership, String> {
    let mut parts = text.split(';');
    let head = parts.next().unwrap_or_default();
    let (name, kind) = head
        .rsplit_once('=')
        .ok_or_else(|| format!("`{text}`: write NAME=mssp or NAME=reseller"))?;
    let kind = match kind.trim().to_ascii_lowercase().as_str() {
        "mssp" => PartnershipType::Mssp,
        "reseller" => PartnershipType::Reseller,
        other => {
            return Err(format!(
                "`{other}` is not a partnership type (mssp or reseller)"
            ));
        }
    };
    let mut partnership = NewPartnership::new(name.trim(), kind);
    for part in parts {
        match part.trim().split_once('=') {
            Some(("skus", list)) => {
                partnership.skus = list.split(',').map(|s| s.trim().to_owned()).collect()
            }
            Some(("min", list)) => {
                for entry in list.split(',') {
                    let (code, units) = entry
                        .split_once(':')
                        .ok_or_else(|| format!("`{entry}`: write CODE:UNITS, e.g. SNS:651"))?;
                    let units = units
                        .trim()
                        .parse()
                        .map_err(|_| format!("`{entry}`: the units must be a whole number"))?;
                    partnership
                        .minimum_commitments
                        .insert(code.trim().to_owned(), units);
                }
            }
            _ => {
                return Err(format!(
                    "`{part}`: expected skus=CODE,… or min=CODE:UNITS,…"
                ));
            }
        }
    }
    Ok(partnership)
}

async fn describe(store: &Store, org: &OrganizationRecord) -> Result<serde_json::Value, String> {
    let mut partnerships = Vec::new();
    for partnership in &org.partnerships {
        let commitments = store
            .commitments(&partnership.id)
            .await
            .map_err(|e| e.to_string())?;
        let mut view = json!(partnership);
        view["minimum_commitments"] = json!(commitments.products);
        partnerships.push(view);
    }
    Ok(json!({
        "id": org.org_id,
        "name": org.name,
        "partnerships": partnerships,
        "api_access_enabled": org.organization_key.is_some(),
        "admins": admins(store, &org.org_id).await?,
    }))
}

async fn admins(store: &Store, org_id: &str) -> Result<serde_json::Value, String> {
    let admins = store
        .organization_admins(org_id)
        .await
        .map_err(|e| e.to_string())?;
    Ok(json!(
        admins.iter().map(membership_view).collect::<Vec<_>>()
    ))
}

fn membership_view(m: &shared::storage::records::AdminMembership) -> serde_json::Value {
    json!({
        "organization_id": m.org_id,
        "issuer": m.issuer,
        "subject": m.subject,
        "role": m.role,
        "email": m.email,
        "added_at": shared::platform::clock::iso8601(m.added_at_ms),
        "added_by": m.added_by,
    })
}

fn operator(name: &str) -> Actor {
    Actor {
        id: format!("operator:{name}"),
        label: None,
        ip: None,
    }
}

fn refusal(e: &shared::ApiError) -> String {
    format!("{}: {}", e.description(), e.detail())
}

fn date(text: &str, flag: &str) -> Result<chrono::NaiveDate, String> {
    shared::partner_data::calendar::parse_date(text, flag).map_err(|e| e.detail())
}

async fn run(cli: Cli) -> Result<serde_json::Value, String> {
    let client = match &cli.endpoint {
        Some(endpoint) => shared::storage::local_client(endpoint),
        None => aws_sdk_dynamodb::Client::new(&aws_config::load_from_env().await),
    };
    let store = Store::new(client, &cli.table);
    let now = SystemClock.now_ms();
    match cli.command {
        Command::CreateOrg {
            name,
            partnerships,
            enable_api_access,
        } => {
            let parsed = partnerships
                .iter()
                .map(|p| parse_partnership(p))
                .collect::<Result<Vec<_>, _>>()?;
            let org =
                onboarding::create_organization(&store, now, &name, &parsed, enable_api_access)
                    .await
                    .map_err(|e| format!("{}: {}", e.description(), e.detail()))?;
            describe(&store, &org).await
        }
        Command::ListOrgs => {
            let orgs = store.organizations().await.map_err(|e| e.to_string())?;
            Ok(json!(orgs.iter().map(|o| json!({ "id": o.org_id, "name": o.name, "api_access_enabled": o.organization_key.is_some() })).collect::<Vec<_>>()))
        }
        Command::ShowOrg { org_id } => {
            let org = organization(&store, &org_id).await?;
            describe(&store, &org).await
        }
        Command::AddAdmin {
            org_id,
            issuer,
            subject,
            email,
            operator: name,
        } => {
            let identity = Identity { issuer, subject };
            let membership = shared::access::admin::add_admin(
                &store,
                now,
                &org_id,
                &identity,
                email,
                &operator(&name),
            )
            .await
            .map_err(|e| refusal(&e))?;
            Ok(membership_view(&membership))
        }
        Command::RemoveAdmin {
            issuer,
            subject,
            operator: name,
        } => {
            let identity = Identity { issuer, subject };
            let membership =
                shared::access::admin::remove_admin(&store, now, &identity, &operator(&name))
                    .await
                    .map_err(|e| refusal(&e))?;
            Ok(json!({ "removed": membership_view(&membership) }))
        }
        Command::ListAdmins { org_id } => {
            organization(&store, &org_id).await?;
            admins(&store, &org_id).await
        }
        Command::RebuildAccountListing {
            org_id,
            partnership,
        } => {
            let org = organization(&store, &org_id).await?;
            let partnership = partnership_of(&org, &partnership)?;
            let rebuilt = store
                .rebuild_account_listing(&partnership.id)
                .await
                .map_err(|e| e.to_string())?;
            Ok(json!({ "partnership_id": partnership.id, "rebuilt": rebuilt }))
        }
        Command::BuildPeriodTotals {
            org_id,
            partnership,
        } => {
            let org = organization(&store, &org_id).await?;
            let partnership = partnership_of(&org, &partnership)?;
            if partnership.kind != PartnershipType::Mssp {
                return Err(format!(
                    "partnership {} is not an MSSP partnership: its reports keep no period totals",
                    partnership.id
                ));
            }
            let today = shared::partner_data::calendar::stockholm_date(now);
            let mut with_companies = Vec::new();
            let mut not_stored = Vec::new();
            let periods = Period::history(PeriodKind::Mssp, today);
            for period in &periods {
                let build = store
                    .rebuild_mssp_totals(&partnership.id, *period)
                    .await
                    .map_err(|e| e.to_string())?;
                if !build.stored {
                    not_stored.push(period.id());
                }
                if build.totals.eligible > 0 {
                    with_companies.push(json!({
                        "period": period.id(),
                        "eligible_companies": build.totals.eligible,
                    }));
                }
            }
            Ok(json!({
                "partnership_id": partnership.id,
                "periods_built": periods.len() - not_stored.len(),
                "with_companies": with_companies,
                // Rows written meanwhile: run it again.
                "not_stored": not_stored,
            }))
        }
        Command::SetCommitment {
            org_id,
            partnership,
            product,
            units,
            from,
            until,
            operator,
            grace_days,
        } => {
            let org = organization(&store, &org_id).await?;
            let partnership = partnership_of(&org, &partnership)?;
            let change = CommitmentChange {
                product: product.trim().to_ascii_uppercase(),
                units,
                from: date(&from, "--from")?,
                until: until.as_deref().map(|u| date(u, "--until")).transpose()?,
            };
            let commitments = commitments::set_commitment(
                &store,
                &org_id,
                partnership,
                &change,
                now,
                grace_days,
                &format!("operator:{operator}"),
            )
            .await
            .map_err(|e| format!("{}: {}", e.description(), e.detail()))?;
            Ok(
                json!({ "partnership_id": partnership.id, "minimum_commitments": commitments.products }),
            )
        }
    }
}

async fn organization(store: &Store, org_id: &str) -> Result<OrganizationRecord, String> {
    store
        .organization(org_id)
        .await
        .map_err(|e| e.to_string())?
        .ok_or_else(|| format!("no organization {org_id}"))
}

fn partnership_of<'a>(
    org: &'a OrganizationRecord,
    partnership_id: &str,
) -> Result<&'a Partnership, String> {
    org.partnerships
        .iter()
        .find(|p| p.id == partnership_id)
        .ok_or_else(|| {
            format!(
                "organization {} has no partnership {partnership_id}",
                org.org_id
            )
        })
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    match run(Cli::parse()).await {
        Ok(output) => {
            println!(
                "{}",
                serde_json::to_string_pretty(&output).unwrap_or_default()
            );
            std::process::ExitCode::SUCCESS
        }
        Err(message) => {
            eprintln!("portalctl: {message}");
            std::process::ExitCode::FAILURE
        }
    }
}
