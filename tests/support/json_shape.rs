//! The shape of JSON documents: which fields exist where, and of which JSON types, learned from
//! real output, so that an example in the docs can be held to it without its values (ids,
//! times and counts differ from run to run, and examples leave fields out).

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

#[derive(Clone, Debug, Default)]
pub struct Shape {
    types: BTreeSet<&'static str>,
    fields: BTreeMap<String, Shape>,
    items: Option<Box<Shape>>,
}

fn type_of(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

impl Shape {
    /// Adds what `value` shows to the shape.
    pub fn learn(&mut self, value: &Value) {
        self.types.insert(type_of(value));
        match value {
            Value::Object(fields) => {
                for (name, field) in fields {
                    self.fields.entry(name.clone()).or_default().learn(field);
                }
            }
            Value::Array(items) => {
                let shape = self.items.get_or_insert_with(Box::default);
                for item in items {
                    shape.learn(item);
                }
            }
            _ => {}
        }
    }

    pub fn of(values: &[Value]) -> Shape {
        let mut shape = Shape::default();
        values.iter().for_each(|v| shape.learn(v));
        shape
    }

    /// Where `example` shows something this shape never had: a field, or a type at a place.
    pub fn mismatches(&self, example: &Value, at: &str) -> Vec<String> {
        let found = type_of(example);
        if !self.types.contains(found) {
            return vec![format!("{at} is {found} in the example, {:?} in the real output", self.types)];
        }
        match example {
            Value::Object(fields) => fields
                .iter()
                .flat_map(|(name, field)| match self.fields.get(name) {
                    Some(shape) => shape.mismatches(field, &format!("{at}.{name}")),
                    None => vec![format!(
                        "{at}.{name} is not in the real output (it has: {})",
                        self.fields.keys().cloned().collect::<Vec<_>>().join(", ")
                    )],
                })
                .collect(),
            Value::Array(items) => match &self.items {
                Some(shape) => items
                    .iter()
                    .enumerate()
                    .flat_map(|(i, item)| shape.mismatches(item, &format!("{at}[{i}]")))
                    .collect(),
                None if items.is_empty() => Vec::new(),
                None => vec![format!("{at} has items, the real output's never does")],
            },
            _ => Vec::new(),
        }
    }
}
