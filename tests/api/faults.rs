//! Faults survived (`make faults` runs this drill alone and prints its figures): DynamoDB
//! Local is stopped in the middle of a run of requests and started again. Every request
//! answers within the SDK's bounds (`storage::limits`), with 503 (10101) while the database
//! is away and never another 5xx; no session or key is left half-written; and the same app
//! (the same Lambda instance) serves normally once the database is back, without a restart.

use std::path::PathBuf;
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use api_tests::{Call, T0, TestResponse};
use serde_json::json;
use shared::platform::clock::{Clock, ManualClock};
use shared::storage::records::PartnershipType;
use shared::storage::{Store, TableOptions, limits};

/// A DynamoDB Local of the drill's own, on disk so that its data outlives a restart.
struct Database {
    port: u16,
    dir: PathBuf,
}

impl Database {
    fn script() -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../scripts/dynamodb-local.sh")
    }

    fn pidfile(&self) -> PathBuf {
        self.dir.join("dynamodb.pid")
    }

    fn start(&self) {
        let status = Command::new(Self::script())
            .arg("start")
            .arg(self.port.to_string())
            .arg(self.pidfile())
            .arg(self.dir.join("data"))
            .status()
            .unwrap();
        assert!(status.success(), "DynamoDB Local did not start");
    }

    fn stop(&self) {
        let status = Command::new(Self::script())
            .arg("stop")
            .arg(self.pidfile())
            .status()
            .unwrap();
        assert!(status.success());
    }
}

impl Drop for Database {
    fn drop(&mut self) {
        self.stop();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// What the drill saw.
#[derive(Debug, Default)]
struct Figures {
    sent: usize,
    ok: usize,
    unavailable: usize,
    other_5xx: usize,
    slowest: Duration,
    recovery: Option<Duration>,
}

/// The app under test (one Lambda instance, kept through the whole drill) and what its
/// requests use.
struct Drill {
    app: shared::App,
    clock: ManualClock,
    org_id: String,
    org_key: String,
    partnership_id: String,
    api_key: String,
    token: String,
}

impl Drill {
    async fn set_up(endpoint: &str) -> Self {
        let clock = ManualClock::at(T0);
        let store = Store::new(shared::storage::local_client(endpoint), "drill");
        store
            .ensure_table(TableOptions {
                ttl: false,
                stream: true,
            })
            .await
            .unwrap();
        let app = api_tests::app_with(store, Arc::new(clock.clone()));
        let org = shared::partner_data::onboarding::create_organization(
            &app.store,
            T0,
            "Drill AB",
            &[shared::partner_data::onboarding::NewPartnership::new(
                "Drill MSSP",
                PartnershipType::Mssp,
            )],
            true,
        )
        .await
        .unwrap();
        api_tests::make_admin(&app.store, &org.org_id).await;
        let partnership_id = org.partnerships[0].id.clone();
        let mut drill = Self {
            org_key: org.organization_key.clone().unwrap(),
            org_id: org.org_id,
            partnership_id,
            api_key: String::new(),
            token: String::new(),
            app,
            clock,
        };
        let key = drill.create_key("Drill").await;
        assert_eq!(key.status, 201, "{}", key.body);
        drill.api_key = key.body["_data"][0]["api_key"].as_str().unwrap().to_owned();
        let session = Call::create_session(&drill.org_key, &drill.api_key)
            .send(&drill.app)
            .await;
        assert_eq!(session.status, 201, "{}", session.body);
        drill.token = session.body["_data"][0]["session_token"]
            .as_str()
            .unwrap()
            .to_owned();
        drill
    }

    async fn create_key(&self, name: &str) -> TestResponse {
        let body = json!({ "name": name, "partnership_id": self.partnership_id, "allow_any_origin": true });
        Call::new("POST", "/v1/admin/keys")
            .json(&body)
            .as_admin(&self.org_id)
            .send(&self.app)
            .await
    }

    /// One round of the drill's mix: a partner call, a session created and ended, and
    /// every third round a key created by the admin. Each answer with how long it took.
    async fn round(&self, round: usize) -> Vec<(Duration, TestResponse)> {
        let mut answers = Vec::new();
        self.clock.advance_ms(1000);
        let started = Instant::now();
        let me = Call::me(&self.token).send(&self.app).await;
        answers.push((started.elapsed(), me));
        let started = Instant::now();
        let created = Call::create_session(&self.org_key, &self.api_key)
            .send(&self.app)
            .await;
        let new_token = created.body["_data"][0]["session_token"]
            .as_str()
            .map(str::to_owned);
        answers.push((started.elapsed(), created));
        if let Some(new_token) = new_token {
            let started = Instant::now();
            let ended = Call::end_session(&new_token).send(&self.app).await;
            answers.push((started.elapsed(), ended));
        }
        if round.is_multiple_of(3) {
            let started = Instant::now();
            let key = self.create_key(&format!("Drill {round}")).await;
            answers.push((started.elapsed(), key));
        }
        answers
    }

    /// Every live slot holds a stored session, and every active key has its lookup item:
    /// nothing the outage interrupted is half-written.
    async fn assert_consistent(&self) {
        let store = &self.app.store;
        let now = self.clock.now_ms();
        for (number, slot) in store.session_slots(&self.org_id).await.unwrap() {
            if slot.expires_at_ms > now {
                let sessions = store
                    .sessions_by_hash(std::slice::from_ref(&slot.session_hash))
                    .await
                    .unwrap();
                assert_eq!(sessions.len(), 1, "slot {number} holds no stored session");
            }
        }
        for record in store.key_records(&self.org_id).await.unwrap() {
            let lookup = store
                .api_key(&shared::access::credentials::CredentialHash(
                    record.key_hash.clone(),
                ))
                .await
                .unwrap();
            assert_eq!(
                lookup.map(|l| l.key_id),
                Some(record.key_id.clone()),
                "key {} has no lookup item",
                record.name
            );
        }
    }
}

impl Figures {
    fn count(&mut self, answers: Vec<(Duration, TestResponse)>) -> bool {
        let mut all_ok = true;
        for (took, response) in answers {
            self.sent += 1;
            self.slowest = self.slowest.max(took);
            match response.status {
                200 | 201 => self.ok += 1,
                503 => {
                    response.assert_error(503, 10101);
                    assert_eq!(response.retry_after_ms(), 1000);
                    self.unavailable += 1;
                    all_ok = false;
                }
                status if status >= 500 => {
                    self.other_5xx += 1;
                    all_ok = false;
                }
                status => panic!("unexpected {status}: {}", response.body),
            }
        }
        all_ok
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_survive_the_database_stopping_and_starting_again() {
    let database = Arc::new(Database {
        port: free_port(),
        dir: std::env::temp_dir().join(format!("fault-drill-{}", uuid::Uuid::new_v4())),
    });
    std::fs::create_dir_all(&database.dir).unwrap();
    database.start();
    let drill = Drill::set_up(&format!("http://127.0.0.1:{}", database.port)).await;
    let mut figures = Figures::default();
    for round in 0..3 {
        assert!(figures.count(drill.round(round).await), "healthy rounds");
    }
    // Stopped while requests run, down for two seconds, started again.
    let outage = {
        let database = Arc::clone(&database);
        tokio::task::spawn_blocking(move || {
            std::thread::sleep(Duration::from_millis(300));
            database.stop();
            std::thread::sleep(Duration::from_secs(2));
            database.start();
            Instant::now()
        })
    };
    let mut round = 3;
    while !outage.is_finished() {
        figures.count(drill.round(round).await);
        round += 1;
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let back_at = outage.await.unwrap();
    let deadline = back_at + Duration::from_secs(30);
    loop {
        let answers = drill.round(round).await;
        round += 1;
        if figures.count(answers) {
            figures.recovery = Some(back_at.elapsed());
            break;
        }
        assert!(
            Instant::now() < deadline,
            "not recovered 30 s after the database was back: {figures:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // The same app keeps serving.
    for _ in 0..3 {
        assert!(figures.count(drill.round(round).await), "{figures:?}");
        round += 1;
    }
    drill.assert_consistent().await;
    println!(
        "fault drill: {} requests sent, {} answered 2xx, {} answered 503 (10101), {} answered another 5xx; slowest answer {} ms (SDK bounds: connect {} ms, attempt {} ms, operation {} ms, {} attempts); served again {} ms after the database was back",
        figures.sent,
        figures.ok,
        figures.unavailable,
        figures.other_5xx,
        figures.slowest.as_millis(),
        limits::CONNECT.as_millis(),
        limits::ATTEMPT.as_millis(),
        limits::OPERATION.as_millis(),
        limits::MAX_ATTEMPTS,
        figures.recovery.unwrap_or_default().as_millis(),
    );
    assert_eq!(figures.other_5xx, 0, "{figures:?}");
    assert!(figures.unavailable > 0, "the outage was seen: {figures:?}");
    // A request makes its calls one after another; the one that meets the outage fails
    // within the operation bound, the ones before it took milliseconds.
    assert!(
        figures.slowest <= limits::OPERATION + Duration::from_secs(1),
        "{figures:?}"
    );
}
