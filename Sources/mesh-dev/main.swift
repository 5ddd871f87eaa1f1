#if canImport(Glibc)
import Glibc
#endif
import MeshCore
import MeshDevKit

exit(DevCommand.main(Array(CommandLine.arguments.dropFirst())))
