"""Play a rosbag2 into the node and record what it publishes.

    ros2 launch fasthmr_ros replay.launch.py bag:=recording output:=recording_fasthmr

`ros2 bag play --clock` drives the node with the recording's time (use_sim_time), so stamps and
latencies refer to the bag; `ros2 bag record` keeps the node's outputs, /tf and /diagnostics.
Launch ends a few seconds after the bag finishes, so the last frame is written.
"""

from launch import LaunchDescription
from launch.actions import (
    DeclareLaunchArgument,
    EmitEvent,
    ExecuteProcess,
    IncludeLaunchDescription,
    RegisterEventHandler,
    TimerAction,
)
from launch.event_handlers import OnProcessExit
from launch.events import Shutdown
from launch.launch_description_sources import PythonLaunchDescriptionSource
from launch.substitutions import LaunchConfiguration, PathJoinSubstitution
from launch_ros.actions import SetParameter
from launch_ros.substitutions import FindPackageShare

ARGUMENTS = {
    "bag": (None, "input rosbag2 (directory or file)"),
    "output": ("fasthmr_replay", "output rosbag2 directory (must not exist)"),
    "rate": ("1.0", "playback rate"),
    "image_topic": ("/camera/image_raw", "image topic in the bag"),
    "camera_info_topic": ("/camera/camera_info", "CameraInfo topic in the bag"),
    "detections_topic": ("", "Detection2DArray topic in the bag; empty = detect here"),
    "device": ("cuda", "torch device for the model"),
    "backend": ("auto", "auto | tensorrt | torch | onnxruntime | cpu"),
    "params_file": ("", "ROS 2 parameters file; empty = the package's config/fasthmr.yaml"),
    "namespace": ("", "namespace of the node"),
    "use_rviz": ("false", "start RViz as well"),
}
FORWARDED = ("image_topic", "camera_info_topic", "detections_topic", "device", "backend", "params_file",
             "namespace", "use_rviz")  # fmt: skip
DRAIN_S = 3.0  # after the bag ends: let the node publish its last frame and the recorder flush


def generate_launch_description() -> LaunchDescription:
    declared = [
        DeclareLaunchArgument(name, description=text)
        if default is None
        else DeclareLaunchArgument(name, default_value=default, description=text)
        for name, (default, text) in ARGUMENTS.items()
    ]
    node = IncludeLaunchDescription(
        PythonLaunchDescriptionSource(
            PathJoinSubstitution([FindPackageShare("fasthmr_ros"), "launch", "fasthmr.launch.py"])
        ),
        launch_arguments={name: LaunchConfiguration(name) for name in FORWARDED}.items(),
    )
    record = ExecuteProcess(
        cmd=[
            "ros2",
            "bag",
            "record",
            "-o",
            LaunchConfiguration("output"),
            "-e",
            ".*fasthmr.*|/tf|/diagnostics",
        ],
        output="screen",
    )
    play = ExecuteProcess(
        cmd=[
            "ros2",
            "bag",
            "play",
            LaunchConfiguration("bag"),
            "--clock",
            "--rate",
            LaunchConfiguration("rate"),
        ],
        output="screen",
    )
    finish = RegisterEventHandler(
        OnProcessExit(
            target_action=play,
            on_exit=[TimerAction(period=DRAIN_S, actions=[EmitEvent(event=Shutdown(reason="bag finished"))])],
        )
    )
    # The model takes a while to load: give the node and the recorder time before playing.
    delayed_play = TimerAction(period=5.0, actions=[play])
    return LaunchDescription(
        [*declared, SetParameter(name="use_sim_time", value=True), node, record, delayed_play, finish]
    )
