//! The start of most tests in one call: a test index holding known observations, and the
//! environment (`HOST`, `ES_INDEX`) that points a door at it.

use std::time::Duration;

use super::doors::{Doors, port_variable};
use super::server::Server;
use super::{TestIndex, host_of};

/// A search that one shard of two fails: the bed (`good`) answers, and `bad`, whose temperature
/// is a keyword, fails its shard. Searching `pattern`, which names both, is a partial answer.
pub struct HalfFailing {
    /// The index that answers, and the environment that points a door at it.
    pub good: Bed,
    /// The index whose shard fails; kept so that it lives as long as the test.
    pub bad: TestIndex,
    /// The `index` parameter that searches both.
    pub pattern: String,
}

impl HalfFailing {
    /// `label-good` holding `observations`, and `label-bad` holding one observation 10 minutes old.
    pub async fn new(label: &str, observations: &[(Duration, f64)]) -> HalfFailing {
        let good = Bed::new(&format!("{label}-good"), observations).await;
        let bad = TestIndex::create_unaggregatable(&format!("{label}-bad")).await;
        bad.add(&[(Duration::from_secs(600), 70.0)]).await;
        let pattern = format!("wx-rtbeat-test-{label}-*-{}", std::process::id());
        HalfFailing { good, bad, pattern }
    }
}

/// A test index with its observations. Dropping it deletes the index.
pub struct Bed {
    /// The index, e.g. for `searches()` or an `index=` parameter.
    pub index: TestIndex,
    host: String,
}

impl Bed {
    /// A fresh index named after `label`, holding one observation per `(age, temperature)`.
    pub async fn new(label: &str, observations: &[(Duration, f64)]) -> Bed {
        Bed::on(TestIndex::create(label).await, observations).await
    }

    /// `index`, created some other way (e.g. with another mapping), holding `observations`.
    pub async fn on(index: TestIndex, observations: &[(Duration, f64)]) -> Bed {
        index.add(observations).await;
        let host = host_of(&index.base);
        Bed { index, host }
    }

    /// `HOST` (the Elasticsearch that holds the index) and `ES_INDEX` (this index).
    pub fn env(&self) -> Vec<(&str, &str)> {
        self.env_via(&self.host)
    }

    /// The same, with `HOST` set to `host`: a proxy in front of the test Elasticsearch.
    pub fn env_via<'a>(&'a self, host: &'a str) -> Vec<(&'a str, &'a str)> {
        vec![("HOST", host), ("ES_INDEX", &self.index.name)]
    }

    /// `binary` (KUBELESS or KNATIVE) started with [`Bed::env`].
    pub async fn door(&self, binary: &str) -> Server {
        self.door_with(binary, &[]).await
    }

    /// `binary` started with [`Bed::env`] and `more`.
    pub async fn door_with(&self, binary: &str, more: &[(&str, &str)]) -> Server {
        let env = [self.env(), more.to_vec()].concat();
        Server::start(binary, port_variable(binary), &env).await
    }

    /// The three serverless doors, started with [`Bed::env`].
    pub async fn doors(&self) -> Doors {
        Doors::start(&self.env()).await
    }
}
