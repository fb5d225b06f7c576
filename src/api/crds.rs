//! The CustomResourceDefinitions, as `kms-operator crds` prints them and `crds/` stores them.

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::CustomResourceExt;

use super::{AwsAccount, KmsAlias, KmsGrant, KmsKey};

pub fn all() -> Vec<CustomResourceDefinition> {
    vec![AwsAccount::crd(), KmsKey::crd(), KmsAlias::crd(), KmsGrant::crd()]
}

/// File name of each CRD under `crds/` (and the chart's `crds/`).
pub fn file_name(crd: &CustomResourceDefinition) -> String {
    format!("{}.yaml", crd.metadata.name.as_deref().unwrap_or("unnamed"))
}

/// One YAML document per CRD.
pub fn to_yaml(crd: &CustomResourceDefinition) -> Result<String, serde_yaml_ng::Error> {
    serde_yaml_ng::to_string(crd)
}

/// Every CRD in one multi-document YAML stream.
pub fn all_yaml() -> Result<String, serde_yaml_ng::Error> {
    let docs = all().iter().map(to_yaml).collect::<Result<Vec<_>, _>>()?;
    Ok(docs.iter().map(|d| format!("---\n{d}")).collect())
}
