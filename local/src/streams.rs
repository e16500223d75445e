//! Plays the Lambda event source mapping of `provisioning-events` locally: reads the table's
//! stream from DynamoDB Local (which keeps one, as DynamoDB does) and hands each batch of
//! records to the function, whose events go to an [`EventLog`] — `.local/events.log` (one
//! JSON event a line) and `GET /_local/events`.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Mutex;

use aws_sdk_dynamodbstreams::Client;
use aws_sdk_dynamodbstreams::types::ShardIteratorType;
use shared::App;
use shared::partner_data::provisioning::events::{
    ProvisioningEvent, Publisher, StreamChange, StreamEvent, StreamRecord,
};

/// Records of one GetRecords call (the event source mapping's batch size).
const BATCH_SIZE: i32 = 100;
/// How often the local server looks at the stream (Lambda polls a shard about 4 times a
/// second; locally, sooner).
pub const POLL_INTERVAL: std::time::Duration = std::time::Duration::from_millis(50);

/// The events delivered so far, kept in memory and appended to a file.
#[derive(Debug, Default)]
pub struct EventLog {
    path: Option<PathBuf>,
    events: Mutex<Vec<ProvisioningEvent>>,
}

impl EventLog {
    pub fn new(path: Option<PathBuf>) -> Self {
        Self {
            path,
            events: Mutex::default(),
        }
    }

    /// Every event so far, in delivery order.
    pub fn events(&self) -> Vec<ProvisioningEvent> {
        self.events.lock().map(|e| e.clone()).unwrap_or_default()
    }
}

impl Publisher for EventLog {
    async fn publish(&self, events: &[ProvisioningEvent]) -> Vec<Result<(), String>> {
        let mut lines = String::new();
        for event in events {
            match serde_json::to_string(event) {
                Ok(line) => {
                    lines.push_str(&line);
                    lines.push('\n');
                }
                Err(err) => return vec![Err(err.to_string()); events.len()],
            }
        }
        if let Some(path) = &self.path {
            use std::io::Write;
            let written = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .and_then(|mut file| file.write_all(lines.as_bytes()));
            if let Err(err) = written {
                return vec![Err(err.to_string()); events.len()];
            }
        }
        if let Ok(mut kept) = self.events.lock() {
            kept.extend(events.iter().cloned());
        }
        vec![Ok(()); events.len()]
    }
}

/// A DynamoDB Streams client for DynamoDB Local at `endpoint`.
pub fn local_streams_client(endpoint: &str) -> Client {
    let config = aws_sdk_dynamodbstreams::Config::builder()
        .behavior_version(aws_sdk_dynamodbstreams::config::BehaviorVersion::latest())
        .endpoint_url(endpoint)
        .region(aws_sdk_dynamodbstreams::config::Region::new("us-east-1"))
        .credentials_provider(aws_sdk_dynamodbstreams::config::Credentials::new(
            "local", "local", None, None, "local",
        ))
        .build();
    Client::from_conf(config)
}

/// Follows every shard of one table's stream from its oldest record.
pub struct StreamFollower {
    client: Client,
    stream_arn: String,
    /// The next iterator of each open shard.
    iterators: HashMap<String, String>,
    /// Shards read to their end.
    closed: Vec<String>,
}

type Failure = Box<dyn std::error::Error + Send + Sync>;

impl StreamFollower {
    pub async fn new(app: &App, client: Client) -> Result<Self, Failure> {
        let stream_arn = app
            .store
            .stream_arn()
            .await?
            .ok_or("the table has no stream")?;
        Ok(Self {
            client,
            stream_arn,
            iterators: HashMap::new(),
            closed: Vec::new(),
        })
    }

    /// Reads what the stream holds now and delivers it, batch by batch; returns the number
    /// of records read. A batch the function reports failed is read again next time.
    pub async fn poll(&mut self, app: &App, publisher: &impl Publisher) -> Result<usize, Failure> {
        self.discover_shards().await?;
        let mut read = 0;
        let shards: Vec<String> = self.iterators.keys().cloned().collect();
        for shard in shards {
            while let Some(iterator) = self.iterators.get(&shard).cloned() {
                let page = self.get_records(iterator).await?;
                let batch = StreamEvent {
                    records: page.records,
                };
                if !batch.records.is_empty() {
                    let response = provisioning_events::handle(app, publisher, batch.clone()).await;
                    if let Some(failed) = response.batch_item_failures.first() {
                        // Resume at the failed record, as the event source mapping does.
                        let iterator = self
                            .client
                            .get_shard_iterator()
                            .stream_arn(&self.stream_arn)
                            .shard_id(&shard)
                            .shard_iterator_type(ShardIteratorType::AtSequenceNumber)
                            .sequence_number(&failed.item_identifier)
                            .send()
                            .await?;
                        if let Some(iterator) = iterator.shard_iterator() {
                            self.iterators.insert(shard.clone(), iterator.to_owned());
                        }
                        return Err("a batch was not delivered; it is read again".into());
                    }
                }
                read += batch.records.len();
                match page.next {
                    Some(next) => {
                        self.iterators.insert(shard.clone(), next);
                    }
                    None => {
                        self.iterators.remove(&shard);
                        self.closed.push(shard.clone());
                    }
                }
                if batch.records.is_empty() {
                    break;
                }
            }
        }
        Ok(read)
    }

    /// One GetRecords page. DynamoDB Local writes an empty map or list in a stream record as
    /// `{}`, which the SDK cannot read; such a page is read from the raw answer instead, with
    /// the empty collections left out (to our records an absent collection is an empty one).
    async fn get_records(&self, iterator: String) -> Result<Page, Failure> {
        match self
            .client
            .get_records()
            .shard_iterator(iterator)
            .limit(BATCH_SIZE)
            .send()
            .await
        {
            Ok(output) => Ok(Page {
                records: output.records().iter().filter_map(convert).collect(),
                next: output.next_shard_iterator().map(str::to_owned),
            }),
            Err(err) => {
                let raw = err
                    .raw_response()
                    .filter(|r| r.status().is_success())
                    .and_then(|r| r.body().bytes())
                    .map(<[u8]>::to_vec);
                match raw {
                    Some(body) => Page::from_local_json(&body),
                    None => Err(err.into()),
                }
            }
        }
    }

    async fn discover_shards(&mut self) -> Result<(), Failure> {
        let described = self
            .client
            .describe_stream()
            .stream_arn(&self.stream_arn)
            .send()
            .await?;
        let shards = described
            .stream_description()
            .map(|d| d.shards().to_vec())
            .unwrap_or_default();
        for shard in shards {
            let Some(id) = shard.shard_id() else {
                continue;
            };
            if self.iterators.contains_key(id) || self.closed.iter().any(|c| c == id) {
                continue;
            }
            let iterator = self
                .client
                .get_shard_iterator()
                .stream_arn(&self.stream_arn)
                .shard_id(id)
                .shard_iterator_type(ShardIteratorType::TrimHorizon)
                .send()
                .await?;
            if let Some(iterator) = iterator.shard_iterator() {
                self.iterators.insert(id.to_owned(), iterator.to_owned());
            }
        }
        Ok(())
    }
}

/// One GetRecords answer.
struct Page {
    records: Vec<StreamRecord>,
    next: Option<String>,
}

impl Page {
    fn from_local_json(body: &[u8]) -> Result<Self, Failure> {
        #[derive(serde::Deserialize)]
        struct Raw {
            #[serde(rename = "Records", default)]
            records: Vec<serde_json::Value>,
            #[serde(rename = "NextShardIterator")]
            next: Option<String>,
        }
        let raw: Raw = serde_json::from_slice(body)?;
        let mut records = Vec::new();
        for mut record in raw.records {
            for image in ["Keys", "NewImage", "OldImage"] {
                if let Some(serde_json::Value::Object(attributes)) =
                    record["dynamodb"].get_mut(image)
                {
                    drop_empty_collections(attributes);
                }
            }
            records.push(serde_json::from_value(record)?);
        }
        Ok(Self {
            records,
            next: raw.next,
        })
    }
}

/// Leaves out every attribute (at any depth) written as `{}`.
fn drop_empty_collections(attributes: &mut serde_json::Map<String, serde_json::Value>) {
    use serde_json::Value;
    fn clean(value: &mut Value) -> bool {
        let Value::Object(typed) = value else {
            return true;
        };
        if typed.is_empty() {
            return false;
        }
        if let Some(Value::Object(map)) = typed.get_mut("M") {
            drop_empty_collections(map);
        }
        if let Some(Value::Array(list)) = typed.get_mut("L") {
            list.retain_mut(clean);
        }
        true
    }
    attributes.retain(|_, value| clean(value));
}

/// A record as the Lambda event carries it.
fn convert(record: &aws_sdk_dynamodbstreams::types::Record) -> Option<StreamRecord> {
    let change = record.dynamodb()?;
    let image = |map: Option<&HashMap<String, aws_sdk_dynamodbstreams::types::AttributeValue>>| {
        map.map(|m| serde_dynamo::Item::from(m.clone()))
    };
    Some(StreamRecord {
        event_name: record.event_name()?.as_str().to_owned(),
        dynamodb: StreamChange {
            keys: image(change.keys())?,
            new_image: image(change.new_image()),
            old_image: image(change.old_image()),
            sequence_number: change.sequence_number()?.to_owned(),
            approximate_creation: change
                .approximate_creation_date_time()
                .map(|at| at.as_secs_f64()),
        },
    })
}

/// Follows the stream until `shutdown` completes, polling every `interval`.
pub async fn follow(
    app: &App,
    mut follower: StreamFollower,
    log: &EventLog,
    interval: std::time::Duration,
    shutdown: impl std::future::Future<Output = ()>,
) {
    tokio::pin!(shutdown);
    loop {
        if let Err(err) = follower.poll(app, log).await {
            tracing::warn!(error = %err, "reading the table's stream");
        }
        tokio::select! {
            _ = &mut shutdown => return,
            _ = tokio::time::sleep(interval) => {}
        }
    }
}
