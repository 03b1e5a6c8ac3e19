"""Students: fine-tune a small model on a distilled dataset (impdist.student.train.train), grow the
dataset with its own filtered samples (impdist.distill.distill), export it to ONNX
(impdist.student.export.export_student) and serve it (Paraphraser)."""
from impdist.student.codes import Controls, PromptFormat, syntax_sketch
from impdist.student.errors import NotAStudentError, StudentError, TrainConflictError
from impdist.student.serve import Paraphraser
from impdist.student.train import TrainConfig, TrainResult

__all__ = ["Controls", "NotAStudentError", "Paraphraser", "PromptFormat", "StudentError", "TrainConfig",
           "TrainConflictError", "TrainResult", "syntax_sketch"]
