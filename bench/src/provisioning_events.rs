//! Provisioning events locally: the time from a provisioning write's answer to its event in
//! the event log, with the table's stream followed as the local server follows it
//! (`local_server::streams`, polling every `POLL_INTERVAL`). In AWS the event source
//! mapping polls the stream instead, so deployed latency is Lambda's, not this.

use std::sync::Arc;
use std::time::{Duration, Instant};

use api_tests::{Call, TestApp, dynamodb_endpoint};
use local_server::streams::{self, EventLog, StreamFollower};
use serde_json::json;
use shared::storage::records::PartnershipType::Mssp;

const SAMPLES: usize = 40;

pub async fn figures() -> Result<(), Box<dyn std::error::Error>> {
    let t = TestApp::spawn().await;
    let log = Arc::new(EventLog::new(None));
    let follower = StreamFollower::new(&t.app, streams::local_streams_client(&dynamodb_endpoint()))
        .await
        .map_err(|e| e.to_string())?;
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let following = {
        let (app, log) = (t.app.clone(), Arc::clone(&log));
        tokio::spawn(async move {
            streams::follow(&app, follower, &log, streams::POLL_INTERVAL, async {
                let _ = stopped.await;
            })
            .await;
        })
    };
    let p = t.partner(Mssp, &["accounts:write"]).await;
    let mut samples = Vec::with_capacity(SAMPLES);
    for n in 0..SAMPLES {
        let before = log.events().len();
        let body = json!({ "name": format!("Latency {n}"), "country": "SE" });
        let created = p.call(Call::new("POST", "/v1/accounts").json(&body)).await;
        let answered = Instant::now();
        if created.status != 201 {
            return Err(format!("account creation answered {}", created.status).into());
        }
        while log.events().len() == before {
            if answered.elapsed() > Duration::from_secs(10) {
                return Err("no event within 10 s of the write".into());
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        samples.push(answered.elapsed());
    }
    let _ = stop.send(());
    following.await?;
    samples.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!(
        "provisioning_event_latency_p50_ms: {:.1}",
        ms(crate::percentile(&samples, 50))
    );
    println!(
        "provisioning_event_latency_p99_ms: {:.1}",
        ms(crate::percentile(&samples, 99))
    );
    Ok(())
}
