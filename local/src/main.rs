//! `make run`: serves the API on http://127.0.0.1:$PORT against DynamoDB Local on
//! 127.0.0.1:$DYNAMODB_PORT (started by scripts/run-local.sh), creating the table and the
//! demo partner on first start.

use std::path::PathBuf;
use std::sync::Arc;

use shared::storage::{Store, TableOptions, local_client};
use shared::{App, Config, SystemClock, partner_data::calendar};

fn env_or(name: &str, default: &str) -> String {
    std::env::var(name)
        .ok()
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| default.to_owned())
}

fn port_from_env(name: &str, default: &str) -> Result<u16, String> {
    env_or(name, default)
        .parse()
        .map_err(|_| format!("{name} must be a port number"))
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    shared::platform::telemetry::init();
    let port = port_from_env("PORT", "3000")?;
    let dynamodb_port = port_from_env("DYNAMODB_PORT", "8000")?;
    let local_dir = PathBuf::from(env_or("LOCAL_DIR", ".local"));
    let table = env_or("TABLE_NAME", "partner-portal-local");
    let config = Config::from_lookup(|name| {
        let set = std::env::var(name).ok().filter(|v| !v.is_empty());
        match name {
            "TABLE_NAME" => Some(table.clone()),
            // Alerts signed by the stand-in code host are trusted unless told otherwise.
            "SECRET_SCANNING_PUBLIC_KEYS" => {
                set.or_else(|| Some(local_server::code_host::PUBLISHED_KEYS.to_owned()))
            }
            _ => set,
        }
    })?;
    let pepper = shared::platform::secrets::load_pepper(
        &aws_config::SdkConfig::builder().build(),
        &config.pepper_source,
    )
    .await?;
    let handover = shared::platform::secrets::load_handover_key(
        &aws_config::SdkConfig::builder().build(),
        &config.handover_source,
    )
    .await?;
    let store = Store::new(
        local_client(&format!("http://127.0.0.1:{dynamodb_port}")),
        &config.table_name,
    );
    // The stream is turned on after the demo data is in (below): DynamoDB Local would
    // slow the seeding several times over recording it.
    store
        .ensure_table(TableOptions {
            ttl: true,
            stream: false,
        })
        .await?;
    let app = App {
        store,
        pepper,
        handover,
        clock: Arc::new(SystemClock),
        config,
    };
    let jwt = local_server::admin_auth::LocalJwt::load_or_create(&local_dir)?;

    let base_url = format!("http://127.0.0.1:{port}");
    let demo_path = local_dir.join("demo.json");
    let (_, seeded) = local_server::demo::load_or_seed(&app, &jwt, &base_url, &demo_path).await?;
    // Provisioning events from here on: changes made through the server (the demo data is
    // where they start from).
    app.store.enable_stream().await?;

    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
    print_walkthrough(&base_url, &demo_path, seeded);
    let notifications_log = Some(local_dir.join("notifications.log"));
    // LOCAL_CONSOLE_TOKEN_TTL_SECONDS: a short console sign-in, to see it expire.
    let oidc = local_server::oidc::Provider::with_token_ttl(
        std::env::var("LOCAL_CONSOLE_TOKEN_TTL_SECONDS")
            .ok()
            .and_then(|v| v.parse().ok()),
    );
    // The event source mapping of provisioning-events: the table's stream, followed.
    let events = Arc::new(local_server::streams::EventLog::new(Some(
        local_dir.join("events.log"),
    )));
    let follower = local_server::streams::StreamFollower::new(
        &app,
        local_server::streams::local_streams_client(&format!("http://127.0.0.1:{dynamodb_port}")),
    )
    .await
    .map_err(|e| e.to_string())?;
    let (stop_following, stopped) = tokio::sync::oneshot::channel::<()>();
    let following = {
        let (app, events) = (app.clone(), Arc::clone(&events));
        tokio::spawn(async move {
            local_server::streams::follow(
                &app,
                follower,
                &events,
                local_server::streams::POLL_INTERVAL,
                async {
                    let _ = stopped.await;
                },
            )
            .await;
        })
    };
    // What EventBridge Scheduler does when deployed: the customer-levels recompute after
    // every Stockholm midnight, and once now so that filtered lists read the index at once.
    let nightly = {
        let app = app.clone();
        tokio::spawn(async move {
            loop {
                match customer_levels::handle(&app, serde_json::Value::Null).await {
                    Ok(_) => tracing::info!("customer levels recomputed"),
                    Err(err) => tracing::warn!(error = %err, "customer levels recompute failed"),
                }
                let now = app.clock.now_ms();
                let tomorrow = calendar::add_days(calendar::stockholm_date(now), 1);
                let wait = calendar::stockholm_midnight_ms(tomorrow).saturating_sub(now) + 5_000;
                tokio::time::sleep(std::time::Duration::from_millis(
                    u64::try_from(wait).unwrap_or(60_000),
                ))
                .await;
            }
        })
    };
    let api = Arc::new(local_server::LocalApi {
        app,
        jwt,
        notifications_log,
        oidc,
        events,
    });
    local_server::serve(listener, api, shutdown_signal()).await?;
    let _ = stop_following.send(());
    nightly.abort();
    let _ = following.await;
    Ok(())
}

async fn shutdown_signal() {
    let mut terminate =
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(signal) => signal,
            Err(_) => return std::future::pending().await,
        };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = terminate.recv() => {}
    }
}

fn print_walkthrough(base_url: &str, demo_path: &std::path::Path, seeded: bool) {
    let demo = demo_path.display();
    let state = if seeded {
        "seeded a new demo partner"
    } else {
        "reusing the demo partner"
    };
    println!(
        r#"
Partner Portal API listening on {base_url} ({state}; credentials in {demo})

  API settings console (partner admins): {base_url}/console   (signs in as the demo admin)
  API guide:                             {base_url}/docs

Try it (the secrets stay in {demo}):

  ORG=$(python3 -c 'import json;print(json.load(open("{demo}"))["organization_key"])')
  KEY=$(python3 -c 'import json;print(json.load(open("{demo}"))["keys"][0]["api_key"])')
  TOKEN=$(curl -s -X POST {base_url}/v1/auth/session -H 'Content-Type: application/json' \
      -d "{{\"organization_key\":\"$ORG\",\"api_key\":\"$KEY\"}}" \
      | python3 -c 'import json,sys;print(json.load(sys.stdin)["_data"][0]["session_token"])')
  curl -s {base_url}/v1/me -H "Authorization: Session $TOKEN"
  curl -s {base_url}/v1/me -H "Authorization: Session $TOKEN"     # within 1 s: 429 + retry_after_ms
  curl -s -X DELETE {base_url}/v1/auth/session -H "Authorization: Session $TOKEN"

Admin routes take the demo admin token (a local JWT, valid 7 days, renewed on every start):

  ADMIN=$(python3 -c 'import json;print(json.load(open("{demo}"))["admin_token"])')
  curl -s {base_url}/v1/admin/keys -H "Authorization: Bearer $ADMIN"
  curl -s {base_url}/v1/admin/sessions -H "Authorization: Bearer $ADMIN"

The daily rotation check, on demand (notifications go to .local/notifications.log):

  make rotation-check

The nightly customer-levels recompute (also run at start and after every Stockholm midnight):

  make customer-levels

Provisioning events (what the platform receives; also appended to .local/events.log):

  curl -s {base_url}/_local/events

Stop with Ctrl-C.
"#
    );
}
