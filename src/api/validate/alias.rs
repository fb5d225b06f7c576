//! Rules on a `KmsAlias`: the alias name and how it names its key.

use super::Issue;
use super::issue::quote;
use super::meta::issues_for;
use super::names::first_bad_alias_char;
use super::reference::check_key_pointer;
use crate::api::catalog::MAX_ALIAS_NAME_CHARS;
use crate::api::{Kind, KmsAlias};

pub fn validate_alias(alias: &KmsAlias) -> Vec<Issue> {
    let mut issues = issues_for(Kind::KmsAlias, &alias.metadata);
    let spec = &alias.spec;
    let name = spec.name.as_str();
    let field = "spec.name";
    let example = "e.g. alias/app-prod-kms-key";

    if !name.starts_with("alias/") {
        issues.add(
            field,
            format!("{} does not start with alias/", quote(name)),
            format!("prefix the name with alias/, {example}"),
        );
    } else if name == "alias/" {
        issues.add(field, "has nothing after alias/", format!("add a name after alias/, {example}"));
    } else if name.starts_with("alias/aws/") {
        issues.add(
            field,
            format!("{} starts with alias/aws/, which AWS reserves for AWS managed keys", quote(name)),
            format!("choose a name outside alias/aws/, {example}"),
        );
    }
    let chars = name.chars().count();
    if chars > MAX_ALIAS_NAME_CHARS {
        issues.add(
            field,
            format!("is {chars} characters, over the KMS limit of {MAX_ALIAS_NAME_CHARS}"),
            format!("shorten the alias name to at most {MAX_ALIAS_NAME_CHARS} characters"),
        );
    }
    if let Some(bad) = first_bad_alias_char(name) {
        issues.add(
            field,
            format!("{} contains {bad:?}, which KMS does not allow in alias names", quote(name)),
            "use only letters, digits, '/', '_' and '-' after alias/",
        );
    }

    check_key_pointer(&mut issues, &spec.pointer());
    issues.into_vec()
}

#[cfg(test)]
mod tests {
    use super::super::testing::{alias, assert_clean, assert_issue};
    use super::*;

    const ALIAS: &str = "KmsAlias platform-kms/datamesh";
    const UUID: &str = "1234abcd-12ab-34cd-56ef-1234567890ab";

    fn named(name: &str) -> Vec<Issue> {
        validate_alias(&alias(&format!("{{name: '{name}', keyRef: {{name: datamesh}}}}")))
    }

    #[test]
    fn a_sound_alias_passes() {
        assert_clean(&named("alias/app-datahub-prod_datamesh/manager"));
        let by_id = format!("{{name: alias/x, targetKeyId: '{UUID}', accountRef: core, region: us-west-2}}");
        assert_clean(&validate_alias(&alias(&by_id)));
    }

    #[test]
    fn alias_names_need_the_prefix() {
        assert_issue(
            &named("app-key"),
            ALIAS,
            "spec.name",
            &["\"app-key\" does not start with alias/"],
            "prefix the name with alias/",
        );
        assert_issue(&named("alias/"), ALIAS, "spec.name", &["nothing after alias/"], "add a name");
    }

    #[test]
    fn alias_aws_is_reserved() {
        assert_issue(
            &named("alias/aws/s3"),
            ALIAS,
            "spec.name",
            &["\"alias/aws/s3\"", "reserves"],
            "outside alias/aws/",
        );
    }

    #[test]
    fn alias_names_are_at_most_256_characters() {
        let long = format!("alias/{}", "a".repeat(251));
        assert_issue(&named(&long), ALIAS, "spec.name", &["257 characters"], "at most 256");
    }

    #[test]
    fn alias_names_name_the_first_bad_character() {
        assert_issue(
            &named("alias/app.key:x"),
            ALIAS,
            "spec.name",
            &["contains '.'"],
            "letters, digits, '/', '_' and '-'",
        );
    }

    #[test]
    fn exactly_one_of_key_ref_and_target_key_id() {
        let both = format!("{{name: alias/x, keyRef: {{name: k}}, targetKeyId: '{UUID}', accountRef: core}}");
        assert_issue(
            &validate_alias(&alias(&both)),
            ALIAS,
            "spec.targetKeyId",
            &["together with spec.keyRef"],
            "keep one",
        );
        let neither = validate_alias(&alias("{name: alias/x}"));
        assert_issue(&neither, ALIAS, "spec.keyRef", &["neither"], "KmsKey in namespace platform-kms");
    }

    #[test]
    fn target_key_id_needs_account_ref_and_the_reverse() {
        let issues = validate_alias(&alias(&format!("{{name: alias/x, targetKeyId: '{UUID}'}}")));
        assert_issue(&issues, ALIAS, "spec.accountRef", &["is missing"], "AwsAccount");
        let issues = validate_alias(&alias("{name: alias/x, keyRef: {name: k}, accountRef: core}"));
        assert_issue(
            &issues,
            ALIAS,
            "spec.accountRef",
            &["\"core\"", "only used with spec.targetKeyId"],
            "remove accountRef",
        );
    }

    #[test]
    fn empty_key_ref_name() {
        let issues = validate_alias(&alias("{name: alias/x, keyRef: {name: ''}}"));
        assert_issue(&issues, ALIAS, "spec.keyRef.name", &["empty"], "platform-kms");
    }

    #[test]
    fn target_key_id_shape_and_region() {
        let issues = validate_alias(&alias("{name: alias/x, targetKeyId: alias/other, accountRef: core}"));
        assert_issue(&issues, ALIAS, "spec.targetKeyId", &["\"alias/other\""], "key id");
        let arn = format!("arn:aws:kms:us-east-1:111122223333:key/{UUID}");
        let issues = validate_alias(&alias(&format!(
            "{{name: alias/x, targetKeyId: '{arn}', accountRef: core, region: eu-west-1}}"
        )));
        assert_issue(&issues, ALIAS, "spec.region", &["\"eu-west-1\"", "\"us-east-1\""], "spec.region: us-east-1");
        let issues = validate_alias(&alias("{name: alias/x, keyRef: {name: k}, region: 'us_east_1'}"));
        assert_issue(&issues, ALIAS, "spec.region", &["not an AWS region"], "us-east-1");
    }
}
