//! JSON and JSON Lines output. Records keep the selected fields in the order given.

use std::io::{self, Write};

use serde::Serialize;
use serde::ser::SerializeMap;

use super::{Records, Shape};
use crate::model::Value;

pub(crate) struct Row<'a> {
    pub fields: &'a [&'static str],
    pub values: &'a [Value],
}

impl Serialize for Row<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(self.fields.len()))?;
        for (k, v) in self.fields.iter().zip(self.values) {
            map.serialize_entry(k, v)?;
        }
        map.end()
    }
}

fn rows<'a>(r: &'a Records<'_>) -> impl Iterator<Item = Row<'a>> {
    r.rows.iter().map(|values| Row {
        fields: r.fields,
        values,
    })
}

pub fn records(w: &mut dyn Write, r: &Records<'_>, shape: Shape) -> io::Result<()> {
    match shape {
        Shape::Array => pretty(w, &rows(r).collect::<Vec<_>>()),
        Shape::Object => match rows(r).next() {
            Some(row) => pretty(w, &row),
            None => Ok(()),
        },
    }
}

pub fn records_lines(w: &mut dyn Write, r: &Records<'_>) -> io::Result<()> {
    for row in rows(r) {
        line(w, &row)?;
    }
    Ok(())
}

pub fn pretty<T: Serialize + ?Sized>(w: &mut dyn Write, v: &T) -> io::Result<()> {
    serde_json::to_writer_pretty(&mut *w, v)?;
    writeln!(w)
}

pub fn line<T: Serialize + ?Sized>(w: &mut dyn Write, v: &T) -> io::Result<()> {
    serde_json::to_writer(&mut *w, v)?;
    writeln!(w)
}
