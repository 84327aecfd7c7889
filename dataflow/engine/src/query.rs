//! The question a group-by answers, as pandas and Dask users write it -
//! `df.groupby(["id1", "id2"]).agg({"v1": "sum", "v3": ["mean", "std"]})` - written on the
//! command line as `--by id1,id2 --agg v1:sum --agg v3:mean,std`, checked against the files'
//! header before any row is read.

use std::fmt;

use crate::Error;

/// What a group-by computes for each group.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Func {
    /// Values that are not missing.
    Count,
    /// Their sum, exact until it is printed (0 for a group with none, as pandas gives it).
    Sum,
    /// Their exact sum, rounded once, over their count: the same on any split (empty for
    /// none).
    Mean,
    /// The least, by `total_cmp` (-0 before +0, so any split gives the same; empty for none).
    Min,
    /// The greatest, by `total_cmp` (+0 after -0; empty for none).
    Max,
    /// The sample variance (ddof=1, as pandas): empty for fewer than two values.
    Var,
    /// Its square root.
    Std,
    /// The middle value, or the mean of the two middle ones for an even count (as pandas).
    Median,
}

impl Func {
    const ALL: [(&'static str, Func); 8] = [
        ("count", Func::Count),
        ("sum", Func::Sum),
        ("mean", Func::Mean),
        ("min", Func::Min),
        ("max", Func::Max),
        ("var", Func::Var),
        ("std", Func::Std),
        ("median", Func::Median),
    ];

    /// The name `--agg` takes and the header shows after the column: `mean` in `v3_mean`.
    pub fn name(self) -> &'static str {
        Func::ALL.iter().find(|(_, f)| *f == self).map(|(name, _)| *name).expect("listed")
    }

    fn parse(name: &str) -> Option<Func> {
        Func::ALL.iter().find(|(n, _)| *n == name).map(|(_, f)| *f)
    }

    /// Whether one group's answer can be made from partial answers merged in any order
    /// (count, sum, min, max, mean, var, std: each from a few numbers a group), or needs all of
    /// the group's values in one place (median): the holistic kind, which is why Dask's median
    /// needs a shuffle.
    pub fn decomposable(self) -> bool {
        self != Func::Median
    }
}

/// One output column after the keys.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Output {
    /// The rows of the group, missing values or not (pandas' `size`).
    Size,
    /// `func` of value column `column` (an index into [`Query::values`]).
    Of {
        /// The value column's index in [`Query::values`].
        column: usize,
        /// What is computed of the column.
        func: Func,
    },
}

/// The group-by asked for: key columns, the numeric columns aggregated, and the output columns
/// in order.
#[derive(Clone, Debug, PartialEq)]
pub struct Query {
    /// The key columns' names, in `--by`'s order.
    pub keys: Vec<String>,
    /// The value columns' names, each once, in the order first asked for.
    pub values: Vec<String>,
    /// The output columns after the keys, in the order asked for.
    pub outputs: Vec<Output>,
    /// `--value V`: the output columns named as before `--agg` existed (`size,count,sum,...`).
    pub legacy: bool,
}

/// At most this many key columns, and this many aggregated columns.
pub const MAX_COLUMNS: usize = 64;

/// What `--value V` means: pandas' `agg(["size","count","sum","mean","min","max"])` of V.
const LEGACY: [Func; 5] = [Func::Count, Func::Sum, Func::Mean, Func::Min, Func::Max];

impl Query {
    /// The query from `--by`, `--agg` (each `COLUMN:FUNC[,FUNC...]` or `size`) and `--value`;
    /// the one line saying what is wrong otherwise.
    pub fn parse(by: &str, aggs: &[String], value: Option<&str>) -> Result<Query, Error> {
        Query::parse_text(by, aggs, value).map_err(Error::Usage)
    }

    fn parse_text(by: &str, aggs: &[String], value: Option<&str>) -> Result<Query, String> {
        let keys: Vec<String> = by.split(',').map(str::to_owned).collect();
        if keys.iter().any(String::is_empty) {
            return Err(format!("--by {by:?}: a column name is empty (give --by a or --by a,b)"));
        }
        if let Some(twice) = first_repeated(&keys) {
            return Err(format!("--by: column {twice:?} is named twice"));
        }
        if keys.len() > MAX_COLUMNS {
            return Err(format!("--by: {} key columns, at most {MAX_COLUMNS}", keys.len()));
        }
        let mut query = Query { keys, values: Vec::new(), outputs: Vec::new(), legacy: false };
        match (value, aggs.is_empty()) {
            (Some(_), false) => {
                return Err("--value and --agg: give one (--value V is --agg size --agg V:count,sum,mean,min,max, named as before)".to_owned());
            }
            (None, true) => {
                return Err("give what to compute: --agg COLUMN:FUNC (count, sum, mean, min, max, var, std, median) or --agg size, or --value COLUMN".to_owned());
            }
            (Some(value), true) => {
                query.legacy = true;
                query.outputs.push(Output::Size);
                for func in LEGACY {
                    query.add(value, func, "--value")?;
                }
            }
            (None, false) => {
                for spec in aggs {
                    query.add_spec(spec)?;
                }
            }
        }
        if query.values.len() > MAX_COLUMNS {
            let n = query.values.len();
            return Err(format!("--agg: {n} aggregated columns, at most {MAX_COLUMNS}"));
        }
        Ok(query)
    }

    /// One `--agg`: `size`, or `COLUMN:FUNC[,FUNC...]`.
    fn add_spec(&mut self, spec: &str) -> Result<(), String> {
        if spec == "size" {
            if self.outputs.contains(&Output::Size) {
                return Err("--agg size: asked twice".to_owned());
            }
            self.outputs.push(Output::Size);
            return Ok(());
        }
        let Some((column, funcs)) = spec.rsplit_once(':') else {
            return Err(format!(
                "--agg {spec:?}: give COLUMN:FUNC, such as v1:sum or v3:mean,std, or size"
            ));
        };
        if column.is_empty() {
            return Err(format!("--agg {spec:?}: the column name is empty"));
        }
        for name in funcs.split(',') {
            let func = Func::parse(name).ok_or_else(|| {
                let known: Vec<&str> = Func::ALL.iter().map(|(n, _)| *n).collect();
                format!(
                    "--agg {spec:?}: no function {name:?} (known: {}, and size)",
                    known.join(", ")
                )
            })?;
            self.add(column, func, "--agg")?;
        }
        Ok(())
    }

    fn add(&mut self, column: &str, func: Func, flag: &str) -> Result<(), String> {
        if self.keys.iter().any(|k| k == column) {
            return Err(format!(
                "{flag}: {column:?} is a key column (--by), not a value to aggregate"
            ));
        }
        let index = match self.values.iter().position(|v| v == column) {
            Some(index) => index,
            None => {
                self.values.push(column.to_owned());
                self.values.len() - 1
            }
        };
        let output = Output::Of { column: index, func };
        if self.outputs.contains(&output) {
            return Err(format!("{flag}: {column}:{} is asked twice", func.name()));
        }
        self.outputs.push(output);
        Ok(())
    }

    /// The output's header: the keys, then each output column.
    pub fn header(&self) -> Vec<String> {
        let mut header = self.keys.clone();
        for output in &self.outputs {
            header.push(match (output, self.legacy) {
                (Output::Size, _) => "size".to_owned(),
                (Output::Of { func, .. }, true) => func.name().to_owned(),
                (Output::Of { column, func }, false) => {
                    format!("{}_{}", self.values[*column], func.name())
                }
            });
        }
        header
    }

    /// What each value column needs kept for the outputs asked of it.
    pub fn needs(&self) -> Vec<Needs> {
        let mut needs = vec![Needs::default(); self.values.len()];
        for output in &self.outputs {
            let Output::Of { column, func } = *output else { continue };
            let need = &mut needs[column];
            match func {
                Func::Count => need.count = true,
                Func::Sum => need.sum = true,
                Func::Mean => (need.count, need.sum) = (true, true),
                // The count tells a group with no value (printed empty) from one whose
                // values were all infinite.
                Func::Min => (need.count, need.min) = (true, true),
                Func::Max => (need.count, need.max) = (true, true),
                Func::Var | Func::Std => (need.count, need.sum, need.squares) = (true, true, true),
                Func::Median => need.values = true,
            }
        }
        needs
    }

    /// Whether a group's size (its rows) is kept.
    pub fn needs_size(&self) -> bool {
        self.outputs.contains(&Output::Size)
    }

    /// The outputs as `--agg` takes them, one each: `size`, `v1:sum`.
    pub fn specs(&self) -> Vec<String> {
        self.outputs
            .iter()
            .map(|output| match output {
                Output::Size => "size".to_owned(),
                Output::Of { column, func } => format!("{}:{}", self.values[*column], func.name()),
            })
            .collect()
    }

    /// The options that ask this query again, for the processes `--processes` starts.
    pub fn to_args(&self) -> Vec<String> {
        let mut args = vec!["--by".to_owned(), self.keys.join(",")];
        if self.legacy {
            args.extend(["--value".to_owned(), self.values[0].clone()]);
            return args;
        }
        for spec in self.specs() {
            args.extend(["--agg".to_owned(), spec]);
        }
        args
    }
}

impl fmt::Display for Query {
    /// In words, for labels: each output, then the keys - `sum v1, mean v3 by "id1", "id2"`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let keys: Vec<String> = self.keys.iter().map(|k| format!("{k:?}")).collect();
        let outputs: Vec<String> = self
            .outputs
            .iter()
            .map(|o| match o {
                Output::Size => "size".to_owned(),
                Output::Of { column, func } => format!("{} {}", func.name(), self.values[*column]),
            })
            .collect();
        write!(f, "{} by {}", outputs.join(", "), keys.join(", "))
    }
}

/// The parts of a value column's state a query needs.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Needs {
    /// The count of values that are not missing (count, mean, var, std; min and max, to tell
    /// a group with no value).
    pub count: bool,
    /// The exact sum (sum, mean, var, std).
    pub sum: bool,
    /// The exact sum of squares, for var and std.
    pub squares: bool,
    /// The least value.
    pub min: bool,
    /// The greatest value.
    pub max: bool,
    /// Every value (median).
    pub values: bool,
}

fn first_repeated(names: &[String]) -> Option<&String> {
    names.iter().enumerate().find(|(i, n)| names[..*i].contains(n)).map(|(_, n)| n)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn aggs(specs: &[&str]) -> Vec<String> {
        specs.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn several_keys_and_functions_in_the_order_given() {
        let q = Query::parse("id1,id2", &aggs(&["v1:sum", "size", "v3:mean,std"]), None).unwrap();
        assert_eq!(q.header(), ["id1", "id2", "v1_sum", "size", "v3_mean", "v3_std"]);
        assert_eq!(q.values, ["v1", "v3"]);
        let needs = q.needs();
        assert!(needs[0].sum && !needs[0].count && !needs[0].squares);
        assert!(needs[1].count && needs[1].sum && needs[1].squares && !needs[1].values);
        assert!(q.needs_size());
        assert_eq!(q.specs(), ["v1:sum", "size", "v3:mean", "v3:std"]);
        assert_eq!(Query::parse("id1,id2", &q.specs(), None).unwrap(), q, "asked again, the same");
        assert_eq!(q.to_args()[..4], ["--by", "id1,id2", "--agg", "v1:sum"]);
    }

    #[test]
    fn value_keeps_its_old_meaning_and_names() {
        let q = Query::parse("origin", &[], Some("dep_delay")).unwrap();
        assert_eq!(q.header(), ["origin", "size", "count", "sum", "mean", "min", "max"]);
        assert!(q.legacy);
        assert_eq!(q.to_args(), ["--by", "origin", "--value", "dep_delay"]);
    }

    #[test]
    fn bad_queries_are_named() {
        let err = |by: &str, specs: &[&str], value: Option<&str>| {
            Query::parse(by, &aggs(specs), value).unwrap_err().to_string()
        };
        assert!(err("a", &["v:avg"], None).contains("no function \"avg\""));
        assert!(err("a,a", &["v:sum"], None).contains("\"a\" is named twice"));
        assert!(err("a", &["v:sum", "v:sum"], None).contains("v:sum is asked twice"));
        assert!(err("a", &["v:sum,sum"], None).contains("asked twice"));
        assert!(err("a", &["size", "size"], None).contains("size: asked twice"));
        assert!(err("a", &["a:sum"], None).contains("is a key column"));
        assert!(err("a", &["v"], None).contains("give COLUMN:FUNC"));
        assert!(err("a,", &["v:sum"], None).contains("empty"));
        assert!(err("a", &[], None).contains("give what to compute"));
        assert!(err("a", &["v:sum"], Some("v")).contains("give one"));
        let many: Vec<String> = (0..65).map(|i| format!("k{i}")).collect();
        assert!(err(&many.join(","), &["v:sum"], None).contains("at most 64"));
        let many: Vec<String> = (0..65).map(|i| format!("v{i}:sum")).collect();
        let many: Vec<&str> = many.iter().map(String::as_str).collect();
        assert!(err("a", &many, None).contains("at most 64"));
    }
}
