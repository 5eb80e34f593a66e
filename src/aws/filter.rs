//! EC2 filters as users write them on the command line.
//!
//! Two forms are accepted, as one flag value each:
//! - the AWS CLI form: `Name=tag:Service,Values=etcd,zk`
//! - smilodon's shorthand, several filters in one value:
//!   `tag:Env=development,tag:Service=etcd,tag-key=Project` (for `tag-key`
//!   the value is the key that must exist).
//!
//! A value cannot contain a comma in either form.

use crate::exit::BadInput;
use aws_sdk_ec2::types::Filter;

/// One EC2 filter: a name and the values any of which matches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FilterSpec {
    pub name: String,
    pub values: Vec<String>,
}

impl FilterSpec {
    pub fn new(
        name: impl Into<String>,
        values: impl IntoIterator<Item = impl Into<String>>,
    ) -> Self {
        FilterSpec {
            name: name.into(),
            values: values.into_iter().map(Into::into).collect(),
        }
    }

    /// A `tag:KEY` filter.
    pub fn tag(key: &str, value: impl Into<String>) -> Self {
        FilterSpec::new(format!("tag:{key}"), [value.into()])
    }

    pub fn to_ec2(&self) -> Filter {
        Filter::builder()
            .name(&self.name)
            .set_values(Some(self.values.clone()))
            .build()
    }
}

/// Parse one flag value in either form.
pub fn parse(input: &str) -> Result<Vec<FilterSpec>, BadInput> {
    let input = input.trim();
    if input.is_empty() {
        return Err(BadInput("empty filter".into()));
    }
    if input.starts_with("Name=") {
        parse_cli_form(input).map(|f| vec![f])
    } else {
        input
            .split(',')
            .map(|part| parse_shorthand(part, input))
            .collect()
    }
}

/// Parse many flag values, and the shorthand form inside each.
pub fn parse_all<S: AsRef<str>>(inputs: &[S]) -> Result<Vec<FilterSpec>, BadInput> {
    let mut out = Vec::new();
    for input in inputs {
        out.extend(parse(input.as_ref())?);
    }
    Ok(out)
}

fn parse_cli_form(input: &str) -> Result<FilterSpec, BadInput> {
    let bad = |why: &str| BadInput(format!("bad filter {input:?}: {why}"));
    let rest = &input["Name=".len()..];
    let (name, values) = rest
        .split_once(",Values=")
        .ok_or_else(|| bad("expected Name=NAME,Values=V1,V2"))?;
    check_name(name).map_err(|why| bad(&why))?;
    let values: Vec<String> = values.split(',').map(str::to_string).collect();
    if values.iter().any(|v| v.is_empty()) {
        return Err(bad("empty value in Values="));
    }
    Ok(FilterSpec::new(name, values))
}

fn parse_shorthand(part: &str, whole: &str) -> Result<FilterSpec, BadInput> {
    let bad = |why: String| BadInput(format!("bad filter {part:?} in {whole:?}: {why}"));
    let (name, value) = part
        .split_once('=')
        .ok_or_else(|| bad("expected NAME=VALUE (e.g. tag:Env=prod or tag-key=Project)".into()))?;
    check_name(name).map_err(bad)?;
    if value.is_empty() {
        return Err(bad("empty value".into()));
    }
    Ok(FilterSpec::new(name, [value]))
}

fn check_name(name: &str) -> Result<(), String> {
    if name.is_empty() {
        return Err("empty filter name".into());
    }
    if name.chars().any(|c| c.is_whitespace() || c == '=') {
        return Err(format!("filter name {name:?} contains a space or '='"));
    }
    if name == "tag:" {
        return Err("tag: needs a key (tag:KEY=VALUE)".into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cli_form() {
        assert_eq!(
            parse("Name=tag:Service,Values=etcd,zk").unwrap(),
            vec![FilterSpec::new("tag:Service", ["etcd", "zk"])]
        );
    }

    #[test]
    fn smilodon_shorthand() {
        assert_eq!(
            parse("tag:Env=development,tag:Service=etcd,tag-key=Project").unwrap(),
            vec![
                FilterSpec::new("tag:Env", ["development"]),
                FilterSpec::new("tag:Service", ["etcd"]),
                FilterSpec::new("tag-key", ["Project"]),
            ]
        );
    }

    #[test]
    fn values_may_contain_equals_and_colons() {
        assert_eq!(
            parse("tag:Url=a=b:c").unwrap(),
            vec![FilterSpec::new("tag:Url", ["a=b:c"])]
        );
    }

    #[test]
    fn errors_name_the_bad_part() {
        let cases = [
            ("tag:Env=dev,oops", "\"oops\""),
            ("tag:Env=dev,=x", "empty filter name"),
            ("tag:=x", "needs a key"),
            ("tag:Env=", "empty value"),
            ("Name=tag:Env", "Name=NAME,Values="),
            ("Name=tag:Env,Values=a,,b", "empty value"),
            ("", "empty filter"),
        ];
        for (input, expect) in cases {
            let err = parse(input).unwrap_err().to_string();
            assert!(err.contains(expect), "{input:?} gave {err:?}");
            assert!(!err.contains('\n'), "multi-line error for {input:?}");
        }
    }
}
