use serde_json::Value;

use super::*;
use crate::format::Format;

/// The EMF specification's rules for a line: an `_aws` member with an integer `Timestamp` (ms)
/// and `CloudWatchMetrics`, each directive with a `Namespace` of 1-255 characters, `Dimensions`
/// (arrays of at most 30 names, each a string member of the root) and `Metrics` (at most 100,
/// each with a `Name` that is a number, or an array of at most 100 numbers, in the root, and a
/// `Unit` CloudWatch knows).
fn check_against_the_specification(line: &Value) -> Result<(), String> {
    let units = [
        "Seconds",
        "Microseconds",
        "Milliseconds",
        "Bytes",
        "Kilobytes",
        "Megabytes",
        "Gigabytes",
        "Terabytes",
        "Bits",
        "Kilobits",
        "Megabits",
        "Gigabits",
        "Terabits",
        "Percent",
        "Count",
        "Bytes/Second",
        "Kilobytes/Second",
        "Megabytes/Second",
        "Gigabytes/Second",
        "Terabytes/Second",
        "Bits/Second",
        "Kilobits/Second",
        "Megabits/Second",
        "Gigabits/Second",
        "Terabits/Second",
        "Count/Second",
        "None",
    ];
    let root = line.as_object().ok_or("the line is not an object")?;
    let aws = root["_aws"].as_object().ok_or("no _aws object")?;
    aws.get("Timestamp")
        .and_then(Value::as_u64)
        .ok_or("_aws.Timestamp is not a whole number of milliseconds")?;
    let directives = aws["CloudWatchMetrics"]
        .as_array()
        .ok_or("_aws.CloudWatchMetrics is not an array")?;
    for directive in directives {
        let namespace = directive["Namespace"].as_str().ok_or("no Namespace")?;
        if !(1..=255).contains(&namespace.len()) {
            return Err(format!("Namespace {namespace:?} is not 1-255 characters"));
        }
        for set in directive["Dimensions"].as_array().ok_or("no Dimensions")? {
            let set = set.as_array().ok_or("a dimension set is not an array")?;
            if set.len() > 30 {
                return Err("a dimension set has more than 30 dimensions".into());
            }
            for name in set {
                let name = name.as_str().ok_or("a dimension is not a name")?;
                if !root.get(name).is_some_and(Value::is_string) {
                    return Err(format!(
                        "dimension {name} is not a string member of the root"
                    ));
                }
            }
        }
        let metrics = directive["Metrics"].as_array().ok_or("no Metrics")?;
        if metrics.len() > 100 {
            return Err("more than 100 metrics".into());
        }
        for metric in metrics {
            let name = metric["Name"].as_str().ok_or("a metric has no Name")?;
            let value = root
                .get(name)
                .ok_or(format!("metric {name} has no value"))?;
            let numbers = match value {
                Value::Number(_) => true,
                Value::Array(values) => values.len() <= 100 && values.iter().all(Value::is_number),
                _ => false,
            };
            if !numbers {
                return Err(format!("metric {name}'s value is not a number"));
            }
            if let Some(unit) = metric.get("Unit") {
                let unit = unit.as_str().unwrap_or_default();
                if !units.contains(&unit) {
                    return Err(format!("metric {name}'s unit {unit:?} is not CloudWatch's"));
                }
            }
        }
    }
    Ok(())
}

#[test]
fn each_calls_line_meets_the_emf_specification() {
    let emf = Emf {
        namespace: "wx-stats".into(),
        function: "wx-stats-fn".into(),
    };
    let served = Served {
        format: Format::Csv,
        cache: CacheOutcome::Hit,
    };
    let line = emf.line(1_764_990_000_000, 12.5, 200, false, Some(served));
    assert_eq!(check_against_the_specification(&line), Ok(()), "{line}");
    assert_eq!(
        (
            &line["Duration"],
            &line["CacheHits"],
            &line["CacheMisses"],
            &line["Format"]
        ),
        (
            &Value::from(12.5),
            &Value::from(1),
            &Value::from(0),
            &Value::from("csv")
        )
    );
    let failed = emf.line(1_764_990_000_000, 3.0, 503, true, None);
    assert_eq!(check_against_the_specification(&failed), Ok(()), "{failed}");
    assert_eq!(failed["Failures"], 1);
}

#[test]
fn the_check_refuses_what_the_specification_refuses() {
    let emf = Emf {
        namespace: "wx-stats".into(),
        function: "f".into(),
    };
    let good = emf.line(1, 1.0, 200, false, None);
    let mut no_value = good.clone();
    no_value.as_object_mut().unwrap().remove("Duration");
    let mut no_dimension = good.clone();
    no_dimension.as_object_mut().unwrap().remove("FunctionName");
    let mut float_time = good.clone();
    float_time["_aws"]["Timestamp"] = Value::from(1.5);
    for bad in [no_value, no_dimension, float_time] {
        assert!(check_against_the_specification(&bad).is_err(), "{bad}");
    }
}
