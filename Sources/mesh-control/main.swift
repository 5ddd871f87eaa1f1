#if canImport(Glibc)
import Glibc
#endif
import ControlPlaneKit

exit(ControlCommand.main(Array(CommandLine.arguments.dropFirst())))
