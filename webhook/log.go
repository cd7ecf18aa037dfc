package webhook

import (
	"fmt"
	"io"

	"github.com/go-logr/logr"
	"github.com/go-logr/zapr"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// LogLevels are the levels NewLogger accepts.
var LogLevels = []string{"debug", "info", "error"}

// NewLogger is the webhook's logger: one JSON record a line on w, at level debug (logr's V(1) too), info or
// error. It is controller-runtime's production logger without zap's sampler: the sampler silently drops
// records beyond 100 a second with the same message, and the decision log has its own bound, which counts
// what it drops.
func NewLogger(w io.Writer, level string) (logr.Logger, error) {
	var lvl zapcore.Level
	switch level {
	case "debug":
		lvl = zapcore.DebugLevel
	case "info":
		lvl = zapcore.InfoLevel
	case "error":
		lvl = zapcore.ErrorLevel
	default:
		return logr.Discard(), fmt.Errorf("log level %q: want one of %v", level, LogLevels)
	}
	enc := zap.NewProductionEncoderConfig()
	enc.EncodeTime = zapcore.RFC3339TimeEncoder
	sink := zapcore.Lock(zapcore.AddSync(w))
	z := zap.New(zapcore.NewCore(zapcore.NewJSONEncoder(enc), sink, lvl),
		zap.AddStacktrace(zapcore.ErrorLevel), zap.ErrorOutput(sink))
	return zapr.NewLogger(z), nil
}
