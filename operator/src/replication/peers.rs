//! The peer regions a region's writes go to: `--peer NAME=SECRET` flags, each resolved to
//! a client for that region's API server through the kubeconfig in the Secret, read at
//! start (a missing one stops the start) and again whenever the peer stops answering.

use k8s_openapi::api::core::v1::Secret;
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Api, Client};
use linkgate_crds::is_region;

use crate::error::{Error, Result};

/// The key of the peer Secret that holds the kubeconfig.
const KUBECONFIG_KEY: &str = "kubeconfig";

/// `--peer NAME=SECRET`, as given.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PeerArg {
    pub region: String,
    pub secret: String,
}

impl std::str::FromStr for PeerArg {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (region, secret) = s
            .split_once('=')
            .ok_or_else(|| format!("{s:?} is not NAME=SECRET"))?;
        if !is_region(region) {
            return Err(format!("region {region:?} is not a DNS label"));
        }
        if secret.is_empty() {
            return Err(format!("{s:?} names no Secret"));
        }
        Ok(Self {
            region: region.into(),
            secret: secret.into(),
        })
    }
}

/// A peer region and a client for its API server.
#[derive(Clone)]
pub struct Peer {
    pub region: String,
    pub client: Client,
    /// Where the kubeconfig came from, read again when the peer stops answering: its
    /// credentials may have been rotated.
    source: PeerArg,
    secrets: Api<Secret>,
}

impl Peer {
    /// Rebuilds the client from the peer's Secret as it is now; keeps the one it has when
    /// the Secret cannot be used.
    pub async fn refresh(&mut self) {
        match client_from(&self.secrets, &self.source).await {
            Ok(client) => self.client = client,
            Err(e) => {
                tracing::warn!(peer = %self.region, error = %e, "peer Secret unusable; keeping the previous client")
            }
        }
    }
}

/// Builds one client per peer from its Secret in `namespace`.
pub async fn connect(client: &Client, namespace: &str, peers: &[PeerArg]) -> Result<Vec<Peer>> {
    let secrets: Api<Secret> = Api::namespaced(client.clone(), namespace);
    let mut connected = Vec::with_capacity(peers.len());
    for peer in peers {
        connected.push(Peer {
            region: peer.region.clone(),
            client: client_from(&secrets, peer).await?,
            source: peer.clone(),
            secrets: secrets.clone(),
        });
    }
    Ok(connected)
}

async fn client_from(secrets: &Api<Secret>, peer: &PeerArg) -> Result<Client> {
    let bad = |why: String| Error::PeerConfig(format!("peer {}: {why}", peer.region));
    let secret = secrets.get(&peer.secret).await?;
    let bytes = secret
        .data
        .as_ref()
        .and_then(|d| d.get(KUBECONFIG_KEY))
        .ok_or_else(|| {
            bad(format!(
                "Secret {:?} has no key {KUBECONFIG_KEY:?}",
                peer.secret
            ))
        })?;
    let text = std::str::from_utf8(&bytes.0).map_err(|e| bad(e.to_string()))?;
    let kubeconfig = Kubeconfig::from_yaml(text).map_err(|e| bad(e.to_string()))?;
    let config = kube::Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default())
        .await
        .map_err(|e| bad(e.to_string()))?;
    Ok(Client::try_from(config)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn peer_flags_are_a_region_and_a_secret() {
        let peer: PeerArg = "eu-west=peer-eu".parse().unwrap();
        assert_eq!(peer.region, "eu-west");
        assert_eq!(peer.secret, "peer-eu");
        for bad in ["eu", "=s", "EU=s", "eu=", "-eu=s"] {
            assert!(bad.parse::<PeerArg>().is_err(), "{bad}");
        }
    }
}
