//! Shards of a fleet for health collection across a CI job matrix: shard `K/N` holds the
//! clusters whose name hashes to `K` among `N`, so every cluster is in exactly one shard and
//! stays there as other clusters come and go.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use sha2::{Digest, Sha256};

/// Shard `index` of `count` (both from 1), written `K/N`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Shard {
    pub index: u32,
    pub count: u32,
}

impl Shard {
    /// The whole fleet: shard 1 of 1.
    pub const WHOLE: Shard = Shard { index: 1, count: 1 };

    /// Whether the cluster `name` belongs to this shard: the first 8 bytes of the SHA-256 of
    /// the name, as a big-endian number, modulo `count`, equal `index - 1`.
    pub fn contains(&self, name: &str) -> bool {
        let digest = Sha256::digest(name.as_bytes());
        let head = u64::from_be_bytes(digest[..8].try_into().expect("8 bytes"));
        head % u64::from(self.count) == u64::from(self.index - 1)
    }
}

impl fmt::Display for Shard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

impl FromStr for Shard {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let wrong = || format!("{text:?} is not a shard: write K/N with 1 <= K <= N, like 3/8");
        let (index, count) = text.split_once('/').ok_or_else(wrong)?;
        let index: u32 = index.trim().parse().map_err(|_| wrong())?;
        let count: u32 = count.trim().parse().map_err(|_| wrong())?;
        if index == 0 || index > count {
            return Err(wrong());
        }
        Ok(Shard { index, count })
    }
}

impl Serialize for Shard {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Shard {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_prints_k_of_n() {
        let shard: Shard = "3/8".parse().unwrap();
        assert_eq!(shard, Shard { index: 3, count: 8 });
        assert_eq!(shard.to_string(), "3/8");
        for bad in ["0/8", "9/8", "3", "a/b", "1/0", "-1/2"] {
            let err = bad.parse::<Shard>().unwrap_err();
            assert!(err.contains("write K/N"), "{bad}: {err}");
        }
    }

    #[test]
    fn every_cluster_is_in_exactly_one_shard_and_shards_are_even() {
        let names: Vec<String> = (0..8_000).map(|i| format!("cluster-{i:05}")).collect();
        let count = 8;
        let mut sizes = vec![0; count as usize];
        for name in &names {
            let owners: Vec<u32> = (1..=count)
                .filter(|&index| Shard { index, count }.contains(name))
                .collect();
            assert_eq!(owners.len(), 1, "{name}: {owners:?}");
            sizes[owners[0] as usize - 1] += 1;
        }
        // 1,000 expected per shard; a hash spreads them within a few percent.
        assert!(
            sizes.iter().all(|&n| (900..1_100).contains(&n)),
            "{sizes:?}"
        );
        assert!(names.iter().all(|n| Shard::WHOLE.contains(n)));
        // Stable: the share of a name depends on the name only. Checked against Python's
        // int.from_bytes(hashlib.sha256(b"prod-eu-1").digest()[:8], "big") % 8 + 1 == 4.
        assert!(Shard { index: 4, count: 8 }.contains("prod-eu-1"));
    }
}
