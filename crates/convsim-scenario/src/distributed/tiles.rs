//! Fields written by the ranks that own them (`parallel.output = "tiles"`, the default):
//! every rank of shot group 0 appends its tile of each written field to its own file
//! (`tiles/rank<k>.h5`, [`convsim_io::TileWriter`]), synchronously, and the run file's
//! `/fields/<name>` are virtual datasets over those files. Nothing is gathered.

use std::path::{Path, PathBuf};

use convsim_io::{TileSource, TileWriter, tile_file_name};
use ndarray::Array2;

use super::{DistSim, agree, command};
use crate::error::{Result, ScenarioError};
use crate::frames::TiledFields;

/// The command of the tile files, and its operations.
pub(super) const TILES: u64 = 10;
const OPEN: u64 = 0;
const WRITE: u64 = 1;
const CLOSE: u64 = 2;

/// This rank's tile file and one tile buffer per written field (allocated once).
pub(super) struct TileOut {
    writer: TileWriter,
    names: Vec<String>,
    bufs: Vec<Array2<f64>>,
}

impl DistSim {
    /// Whether this run's ranks write their own tiles (else frames are gathered to rank 0).
    pub(crate) fn writes_tiles(&self) -> bool {
        self.tiles
    }

    /// Runs the tile operation `op` on this rank (rank 0 passes the open request, which it
    /// broadcasts) and agrees on the outcome (collective over every rank).
    pub(super) fn tiles_op(&self, op: u64, request: Option<&str>) -> Result<()> {
        let r = match op {
            OPEN => {
                let text = self.world.broadcast_text(0, request.unwrap_or_default());
                self.open_local(&text)
            }
            WRITE => self.write_local(),
            CLOSE => self.close_local(),
            _ => unreachable!("distributed run: unknown tile operation {op}"),
        };
        agree(&self.world, r)
    }

    /// The open request: lines `dir`, `suffix`, `planned`, `resume frames or -`, `names`.
    fn open_local(&self, text: &str) -> Result<()> {
        // Shot 0's wavefield, as on one process: group 0's ranks hold it.
        if self.group != 0 {
            return Ok(());
        }
        let mut lines = text.split('\n');
        let mut next = || lines.next().unwrap_or_default();
        let (dir, suffix) = (PathBuf::from(next()), next().to_string());
        let planned: usize = next().parse().unwrap_or(0);
        let resume: Option<usize> = next().parse().ok();
        let names: Vec<String> = next()
            .split(',')
            .filter(|n| !n.is_empty())
            .map(String::from)
            .collect();
        let rank = self.ctl.rank();
        let path = dir.join(format!("{}{suffix}", tile_file_name(rank)));
        let [ty, tx] = self.blocks[rank].1;
        let io = |e| ScenarioError::io(&path, e);
        let writer = match resume {
            None => TileWriter::create(&path, &names, (ty, tx), planned).map_err(io)?,
            Some(frames) => {
                let mut w = TileWriter::resume(&path).map_err(io)?;
                if w.shape() != (ty, tx) {
                    return Err(ScenarioError::io(
                        &path,
                        format!(
                            "the tile is {:?} but this rank's block is {:?}: resume with the \
                             process grid the run was started with",
                            w.shape(),
                            (ty, tx)
                        ),
                    ));
                }
                w.rewind(frames).map_err(io)?;
                w.reserve_frames(planned).map_err(io)?;
                w
            }
        };
        let bufs = names.iter().map(|_| Array2::zeros((ty, tx))).collect();
        *self.tile_out.borrow_mut() = Some(TileOut {
            writer,
            names,
            bufs,
        });
        Ok(())
    }

    fn write_local(&self) -> Result<()> {
        let mut out = self.tile_out.borrow_mut();
        let Some(TileOut {
            writer,
            names,
            bufs,
        }) = out.as_mut()
        else {
            // Not group 0 (or a bug: the driver opens the tiles before the first frame).
            return Ok(());
        };
        for (name, b) in names.iter().zip(bufs.iter_mut()) {
            self.tile.write_field(name, b.view_mut());
        }
        let views: Vec<(&str, ndarray::ArrayView2<'_, f64>)> = names
            .iter()
            .zip(bufs.iter())
            .map(|(n, b)| (n.as_str(), b.view()))
            .collect();
        let path = writer.path().to_path_buf();
        writer
            .append(&views)
            .map_err(|e| ScenarioError::io(&path, e))
    }

    fn close_local(&self) -> Result<()> {
        match self.tile_out.borrow_mut().take() {
            Some(t) => {
                let path = t.writer.path().to_path_buf();
                t.writer.close().map_err(|e| ScenarioError::io(&path, e))
            }
            None => Ok(()),
        }
    }
}

impl TiledFields for DistSim {
    fn tile_sources(&self) -> Vec<TileSource> {
        self.blocks
            .iter()
            .enumerate()
            .map(|(k, (start, shape))| TileSource {
                file: tile_file_name(k),
                start: *start,
                shape: *shape,
            })
            .collect()
    }

    fn open_tiles(
        &self,
        dir: &Path,
        suffix: &str,
        names: &[String],
        planned: usize,
        resume: Option<usize>,
    ) -> Result<()> {
        // Absolute: the other ranks may not share this process's working directory.
        let dir = std::path::absolute(dir).unwrap_or_else(|_| dir.to_path_buf());
        let request = format!(
            "{}\n{suffix}\n{planned}\n{}\n{}",
            dir.display(),
            resume.map_or_else(|| "-".to_string(), |f| f.to_string()),
            names.join(",")
        );
        command(TILES, OPEN, 0);
        self.tiles_op(OPEN, Some(&request))
    }

    fn write_tiles(&self) -> Result<()> {
        command(TILES, WRITE, 0);
        self.tiles_op(WRITE, None)
    }

    fn close_tiles(&self) -> Result<()> {
        command(TILES, CLOSE, 0);
        self.tiles_op(CLOSE, None)
    }
}
