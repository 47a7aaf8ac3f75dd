"""Launch the fasthmr_ros lifecycle node, configure and activate it, optionally with RViz.

    ros2 launch fasthmr_ros fasthmr.launch.py image_topic:=/cam/image_raw \
        camera_info_topic:=/cam/camera_info device:=cuda use_rviz:=true

Parameters come from `params_file` (default: the package's config/fasthmr.yaml); the arguments
below override the most used ones and default to the same values as that file.
"""

from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument, EmitEvent, OpaqueFunction, RegisterEventHandler
from launch.conditions import IfCondition
from launch.events import matches_action
from launch.substitutions import LaunchConfiguration, PathJoinSubstitution
from launch_ros.actions import LifecycleNode, Node
from launch_ros.event_handlers import OnStateTransition
from launch_ros.events.lifecycle import ChangeState
from launch_ros.parameter_descriptions import ParameterValue
from launch_ros.substitutions import FindPackageShare
from lifecycle_msgs.msg import Transition

PACKAGE = "fasthmr_ros"

# name -> (default, description); the node parameters among them keep config/fasthmr.yaml's defaults.
ARGUMENTS = {
    "image_topic": ("/camera/image_raw", "sensor_msgs/Image (or CompressedImage) input"),
    "camera_info_topic": ("/camera/camera_info", "sensor_msgs/CameraInfo of the image"),
    "detections_topic": ("", "vision_msgs/Detection2DArray person boxes; empty = detect here"),
    "image_reliability": ("best_effort", "input QoS: best_effort (REP-2003) or reliable"),
    "queue_depth": ("5", "keep-last QoS depth of the input subscriptions"),
    "cameras": ("", "several cameras: namespaces or image:camera_info pairs; empty = image_topic"),
    "target_frame": ("", "frame of the 3D outputs, from /tf; empty = the camera frame"),
    "device": ("cuda", "torch device for the model (auto backend falls back to the CPU)"),
    "backend": ("auto", "auto | tensorrt | torch | onnxruntime | cpu"),
    "params_file": ("", "ROS 2 parameters file; empty = the package's config/fasthmr.yaml"),
    "namespace": ("", "namespace of the node and its relative output topics"),
    "use_rviz": ("false", "start RViz with config/fasthmr.rviz"),
    "autostart": ("true", "configure and activate the lifecycle node on launch"),
}
# name -> type of the node parameter it sets (launch arguments are text).
NODE_PARAMETERS = {
    "image_topic": str,
    "camera_info_topic": str,
    "detections_topic": str,
    "image_reliability": str,
    "queue_depth": int,
    "cameras": str,
    "target_frame": str,
    "device": str,
    "backend": str,
}


def _params_file(context_value: str) -> object:
    default = PathJoinSubstitution([FindPackageShare(PACKAGE), "config", "fasthmr.yaml"])
    return context_value or default


def generate_launch_description() -> LaunchDescription:
    declared = [
        DeclareLaunchArgument(name, default_value=default, description=text)
        for name, (default, text) in ARGUMENTS.items()
    ]

    def node_and_transitions(context: object) -> list:
        params_file = LaunchConfiguration("params_file").perform(context)
        overrides = {
            name: ParameterValue(LaunchConfiguration(name), value_type=kind)
            for name, kind in NODE_PARAMETERS.items()
        }
        node = LifecycleNode(
            package=PACKAGE,
            executable="fasthmr_node",
            name="fasthmr_node",
            namespace=LaunchConfiguration("namespace"),
            output="screen",
            parameters=[_params_file(params_file), overrides],
        )
        autostart = IfCondition(LaunchConfiguration("autostart"))
        configure = EmitEvent(
            event=ChangeState(
                lifecycle_node_matcher=matches_action(node), transition_id=Transition.TRANSITION_CONFIGURE
            ),
            condition=autostart,
        )
        activate = RegisterEventHandler(
            OnStateTransition(
                target_lifecycle_node=node,
                start_state="configuring",
                goal_state="inactive",
                entities=[
                    EmitEvent(
                        event=ChangeState(
                            lifecycle_node_matcher=matches_action(node),
                            transition_id=Transition.TRANSITION_ACTIVATE,
                        )
                    )
                ],
            ),
            condition=autostart,
        )
        return [node, activate, configure]

    rviz = Node(
        package="rviz2",
        executable="rviz2",
        arguments=["-d", PathJoinSubstitution([FindPackageShare(PACKAGE), "config", "fasthmr.rviz"])],
        condition=IfCondition(LaunchConfiguration("use_rviz")),
    )
    return LaunchDescription([*declared, OpaqueFunction(function=node_and_transitions), rviz])
